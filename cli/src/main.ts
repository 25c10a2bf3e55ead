#!/usr/bin/env node
import { text } from 'node:stream/consumers';
import { main } from './cli.ts';

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());

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
