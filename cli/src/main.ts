#!/usr/bin/env node
import { text } from 'node:stream/consumers';
import { main } from './cli.ts';

// Ctrl-C: commands that follow or stream stop cleanly (a stream's run is canceled); anything still
// running 2 s later, or a second Ctrl-C, exits at once with 130
const stop = new AbortController();
process.on('SIGINT', () => {
  if (stop.signal.aborted) process.exit(130);
  stop.abort();
  setTimeout(() => process.exit(130), 2000).unref();
});

const code = await main(
  process.argv.slice(2),
  {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    readStdin: () => text(process.stdin),
    isTTY: Boolean(process.stdin.isTTY),
  },
  stop.signal,
);
process.exitCode = code;
