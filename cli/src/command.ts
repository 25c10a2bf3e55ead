// A command of the `promptmill` CLI, and the option readers the command tables share.
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from './cli-error.ts';
import { clientFor } from './config.ts';
import type { Io } from './output.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  usage: string;
  summary: string;
  help: string;
  options: Options;
  positionals: [min: number, max: number];
  run: (ctx: {
    values: Record<string, unknown>;
    positionals: string[];
    io: Io;
    signal: AbortSignal;
  }) => Promise<void>;
}

export const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
export const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
export function int(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new UsageError(`--${name} must be a whole number, got '${String(v)}'`);
  return n;
}
export function oneOf<T extends string>(v: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T))
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${String(v)}'`);
  return v as T;
}
export const client = (values: Record<string, unknown>, io: Io) =>
  clientFor({ 'api-key': str(values['api-key']), 'base-url': str(values['base-url']) }, io.env);
