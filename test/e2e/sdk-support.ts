// Shared by the SDK and CLI e2e files: the served OpenAPI document, and clients for the e2e stack.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { type ClientOptions, Promptmill } from '../../sdk/src/index.ts';
import { apiUrl } from './helpers.ts';

let document: Promise<{ paths: Record<string, Record<string, unknown>> }> | undefined;

/** The OpenAPI document the api serves (fetched once per file). */
export function servedOpenApi() {
  document ??= fetch(`${apiUrl}/openapi.json`).then(async (r) => {
    if (!r.ok) throw new Error(`GET /openapi.json: ${r.status}`);
    return (await r.json()) as { paths: Record<string, Record<string, unknown>> };
  });
  return document;
}

/** Whether the api serves this operation (`GET`, `/v1/webhooks/{id}`). */
export async function isServed(method: string, path: string): Promise<boolean> {
  const doc = await servedOpenApi();
  return Boolean(doc.paths[path]?.[method.toLowerCase()]);
}

/**
 * The reason to skip a test of routes other branches add (chains, webhooks, usage, alerts) while the
 * api does not serve them yet, or undefined when it serves all of them. Checked at run time, so the
 * tests run as soon as the routes are merged.
 */
export async function missingRoutes(
  ...ops: Array<[method: string, path: string]>
): Promise<string | undefined> {
  const missing = [];
  for (const [m, p] of ops) if (!(await isServed(m, p))) missing.push(`${m} ${p}`);
  return missing.length ? `the api does not serve ${missing.join(', ')} yet` : undefined;
}

export function sdk(apiKey: string | string[], opts: Omit<ClientOptions, 'apiKey'> = {}): Promptmill {
  return new Promptmill({ apiKey, baseUrl: apiUrl, initialRetryDelayMs: 50, ...opts });
}

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI_MAIN = resolve(ROOT, 'cli/src/main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `promptmill …` from source with this Node (24: it strips the types itself). */
export function cli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; stdin?: string } = {},
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--conditions=@promptmill/source', CLI_MAIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PROMPTMILL_BASE_URL: apiUrl, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}
