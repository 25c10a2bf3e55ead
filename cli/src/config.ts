import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Promptmill } from '@promptmill/sdk';
import { CliError } from './cli-error.ts';

export interface StoredConfig {
  apiKey?: string;
  baseUrl?: string;
}

export interface GlobalFlags {
  'api-key'?: string | undefined;
  'base-url'?: string | undefined;
}

export const DEFAULT_BASE_URL = 'http://127.0.0.1:3000';

/** `$XDG_CONFIG_HOME/promptmill` (default `~/.config/promptmill`; `%APPDATA%\promptmill` on Windows). */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'promptmill');
  if (process.platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'promptmill');
  return join(homedir(), '.config', 'promptmill');
}

export const configPath = (env: NodeJS.ProcessEnv = process.env) => join(configDir(env), 'config.json');

export async function readConfig(env: NodeJS.ProcessEnv = process.env): Promise<StoredConfig> {
  let text: string;
  try {
    text = await readFile(configPath(env), 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as StoredConfig) : {};
  } catch {
    throw new CliError(`${configPath(env)} is not valid JSON: run promptmill login again`);
  }
}

/** Writes the config readable by its owner only (0600, folder 0700): it holds a secret. */
export async function writeConfig(
  config: StoredConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const dir = configDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = configPath(env);
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // an existing file keeps its mode on write
  return path;
}

export async function removeConfig(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await rm(configPath(env), { force: true });
}

/**
 * Key and base URL: flags, then PROMPTMILL_API_KEY / PROMPTMILL_BASE_URL, then the config file.
 * A comma-separated key list is a fallback list (the next key takes over when one is revoked or limited).
 */
export async function resolveSettings(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env) {
  const stored = await readConfig(env);
  const apiKey = flags['api-key'] ?? env.PROMPTMILL_API_KEY ?? stored.apiKey;
  const baseUrl = flags['base-url'] ?? env.PROMPTMILL_BASE_URL ?? stored.baseUrl ?? DEFAULT_BASE_URL;
  return { apiKey, baseUrl };
}

export async function clientFor(
  flags: GlobalFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Promptmill> {
  const { apiKey, baseUrl } = await resolveSettings(flags, env);
  if (!apiKey) throw new CliError('No API key: run `promptmill login`, or set PROMPTMILL_API_KEY');
  const keys = apiKey
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  return new Promptmill({ apiKey: keys, baseUrl });
}
