/**
 * Standalone mock provider.
 *
 *   tsx infra/dev/src/mock-provider/main.ts [--port 0] [--host 127.0.0.1]
 *
 * Prints `{"url":"http://127.0.0.1:PORT/v1"}` on one line once listening, then serves until
 * SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { startMockProvider } from './server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
  strict: true,
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`invalid --port ${values.port}\n`);
  process.exit(2);
}

const provider = await startMockProvider({ port, host: values.host });
process.stdout.write(`${JSON.stringify({ url: provider.url })}\n`);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  provider.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`mock provider close failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
