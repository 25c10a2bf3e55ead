export { main } from './cli.ts';
export type { Io } from './output.ts';
export { type PromptFile, parsePromptFile, serializePromptFile } from './prompt-files.ts';
