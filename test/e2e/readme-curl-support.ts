// The README's curl examples as a newcomer runs them: every ```sh block of the "API" section, split into
// commands, run one after the other with bash against a live api, with $API, $KEY, $ADMIN_TOKEN and
// $ADMIN_KEY set and each `org_…`, `key_…`, `run_…` … placeholder replaced by the id the previous answers
// gave (as a reader copies it from the answer above). Used by readme-curl.test.ts (e2e stack) and by
// `npx tsx test/e2e/readme-curl-support.ts` against a running `npm start` (API, KEY, ADMIN_TOKEN set).
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

export const README = resolve(import.meta.dirname, '../../README.md');

export interface CurlCommand {
  /** README line of the command's first line */
  line: number;
  /** the command as written (continuation lines joined by bash itself) */
  text: string;
}

/** Commands of every ```sh block between two headings (from `## from` up to the next `## ` heading). */
export function curlCommands(readme: string, from = '## API'): CurlCommand[] {
  const lines = readme.split('\n');
  const start = lines.indexOf(from);
  if (start < 0) throw new Error(`README has no "${from}" heading`);
  const commands: CurlCommand[] = [];
  let inBlock = false;
  let current: { line: number; text: string[]; loop: boolean } | undefined;
  let quoted = false;
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^## /.test(l)) break;
    if (!inBlock) {
      inBlock = l === '```sh';
      continue;
    }
    if (l === '```') {
      inBlock = false;
      continue;
    }
    if (!current) {
      if (!/^(curl|for) /.test(l)) continue; // output shown as comments, blank lines
      current = { line: i + 1, text: [], loop: l.startsWith('for ') };
    }
    current.text.push(l);
    // a line ends the command unless a single-quoted string is still open, it ends with `\` or a
    // `for` loop is not closed by its `done` yet
    for (const ch of l.replace(/#.*$/, (c) => (quoted ? c : ''))) if (ch === "'") quoted = !quoted;
    if (!quoted && !l.endsWith('\\') && (!current.loop || l.trim() === 'done')) {
      commands.push({ line: current.line, text: current.text.join('\n') });
      current = undefined;
    }
  }
  return commands;
}

/** The first id of each prefix in an answer body, in document order (lists are not a reader's pick). */
export function idsIn(body: unknown, into: Map<string, string>) {
  const seen = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === 'string') {
      // resource ids: a short prefix and 22 base64url characters (run_…, wfr_…, and those to come)
      const m = /^([a-z]{2,4})_[A-Za-z0-9_-]{20,}$/.exec(v);
      if (m && !seen.has(m[1]!)) {
        seen.add(m[1]!);
        into.set(m[1]!, v);
      }
    } else if (Array.isArray(v)) {
      // a list's ids are not "the one above"
    } else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(body);
}

export interface CurlResult {
  command: CurlCommand;
  /** the command after placeholder substitution */
  ran: string;
  status: number;
  body: unknown;
  stdout: string;
  stderr: string;
}

function bash(script: string, env: Record<string, string>, timeoutMs: number) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn('bash', ['--norc', '--noprofile', '-c', script], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Runs one command; `ids` gives the placeholders' values and takes the ids of the answer. */
export async function runCurl(
  command: CurlCommand,
  env: { API: string; KEY: string; ADMIN_TOKEN: string; ADMIN_KEY: string },
  ids: Map<string, string>,
  timeoutMs = 60_000,
): Promise<CurlResult> {
  const ran = command.text.replace(/\b([a-z]+)_…/g, (whole, prefix: string) => ids.get(prefix) ?? whole);
  // every curl also prints the status on a line of its own, after the body
  const script = `curl() { command curl -w '\\n@@status %{http_code}\\n' "$@"; }\n${ran}`;
  const r = await bash(script, env, timeoutMs);
  // a loop runs several: the worst status counts
  const statuses = [...r.stdout.matchAll(/\n@@status (\d+)\n/g)].map((m) => Number(m[1]));
  const status = statuses.length ? Math.max(...statuses) : -1;
  const out = r.stdout.replace(/\n@@status \d+\n$/, '');
  // `-si` prints the headers first; the body is what follows the blank line
  const text = /^HTTP\//.test(out) ? out.slice(out.search(/\r?\n\r?\n/) + 1).trim() : out.trim();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // event streams, empty 204 bodies
  }
  if (status >= 200 && status < 300) idsIn(body, ids);
  return { command, ran, status, body, stdout: out, stderr: r.stderr };
}

export async function readmeCurlCommands(from?: string) {
  return curlCommands(await readFile(README, 'utf8'), from);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = {
    API: process.env.API ?? 'http://127.0.0.1:3000',
    KEY: process.env.KEY ?? '',
    ADMIN_TOKEN: process.env.ADMIN_TOKEN ?? '',
    ADMIN_KEY: process.env.ADMIN_KEY ?? process.env.KEY ?? '',
  };
  const ids = new Map<string, string>();
  for (const c of await readmeCurlCommands()) {
    const r = await runCurl(c, env, ids);
    const shown = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    console.log(`README.md:${c.line} → ${r.status}  ${r.ran.split('\n')[0]!.slice(0, 110)}`);
    if (r.status >= 400 || r.status < 0) console.log(`    ${shown.slice(0, 400)} ${r.stderr.slice(0, 200)}`);
  }
}
