// Shared by the run e2e files (runs, async-runs, idempotency, sync-run, agents, fallback, cache, budget).
import { createHash, randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, inject } from 'vitest';
import { call } from './helpers.ts';

/** One small pool per test file, closed after it. */
export function testSql() {
  const sql = postgres(inject('databaseUrl'), { max: 3, onnotice: () => {} });
  afterAll(() => sql.end());
  return sql;
}

/** The 200 body of a sync run (`POST /api/v1/run`). */
export interface SyncOk {
  success: true;
  output: string;
  model: string;
  runId: string;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; cost: number };
}

export interface RunBody {
  id: string;
  status: string;
  mode: string;
  prompt: { id: string; name: string };
  version: number;
  model: string;
  output: string | null;
  error: { code: string; message: string } | null;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; cost: number };
  attempts: number;
  cacheHit: boolean;
  metadata: Record<string, unknown> | null;
  timings: {
    createdAt: string;
    startedAt: string | null;
    finishedAt: string | null;
    durationMs: number | null;
  };
  links: { self: string; cancel: string };
}

export const isFinished = (status: string) => ['succeeded', 'failed', 'canceled'].includes(status);

/** Polls GET /v1/runs/:id until `until(run)` holds (default: finished); fails after `timeoutMs`. */
export async function pollRun(
  key: string,
  id: string,
  until: (run: RunBody) => boolean = (r) => isFinished(r.status),
  timeoutMs = 20_000,
): Promise<RunBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call<{ data: RunBody }>('GET', `/v1/runs/${id}`, { key });
    if (res.status !== 200) throw new Error(`GET /v1/runs/${id}: ${res.status} ${res.text}`);
    if (until(res.body.data)) return res.body.data;
    if (Date.now() > deadline) throw new Error(`run ${id} stayed ${res.body.data.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A key inserted straight into the database (the keys API is another route group): scopes and
 * prompt restriction as given, owned by the org's first member.
 */
export async function insertKey(
  sql: postgres.Sql,
  orgId: string,
  opts: { scopes: string[]; promptIds?: string[] | null },
): Promise<string> {
  const plaintext = `pm_live_${randomBytes(32).toString('hex')}`;
  const hash = createHash('sha256').update(plaintext).digest();
  const [owner] = await sql<{ id: string }[]>`SELECT id FROM members WHERE org_id = ${orgId} LIMIT 1`;
  await sql`
    INSERT INTO api_keys (id, org_id, owner_member_id, name, key_hash, summary, scopes, prompt_ids)
    VALUES (${`key_${randomBytes(8).toString('hex')}`}, ${orgId}, ${owner!.id}, 'e2e', ${hash}, 'pm_live_e2e...e2e',
            ${opts.scopes}, ${opts.promptIds ?? null})`;
  return plaintext;
}

export async function promptId(key: string, name: string): Promise<string> {
  const res = await call<{ data: { id: string } }>('GET', `/v1/prompts/${encodeURIComponent(name)}`, { key });
  if (res.status !== 200) throw new Error(`GET prompt: ${res.status} ${res.text}`);
  return res.body.data.id;
}
