export { requestStreamCancel, type StreamCancellations, streamCancellationsFor } from './cancellations.ts';
export {
  RUN_CANCEL_CHANNEL,
  RUN_DONE_CHANNEL,
  RUN_STREAM_CHANNEL,
  type RunStreamMessage,
  runStreamMessageSchema,
  STREAM_NOTIFY_MAX_BYTES,
  splitForNotify,
} from './channel.ts';
export { createStreamPublisher, type StreamPublisher } from './publisher.ts';
export { type RunDoneHub, type RunDoneWatch, runDoneHubFor } from './run-done.ts';
export { DeltaSequencer, type RunStreamHub, runStreamHubFor } from './subscriber.ts';
