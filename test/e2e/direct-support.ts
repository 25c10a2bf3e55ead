// Shared by the direct-mode e2e files: an api process with SYNC_RUN_MODE=direct against the shared
// stack, and what a run leaves behind (its answer, rows, resource, metric increments) in a form two
// modes can be compared in: ids, timings and the test's own markers taken out.

import { orgMetricTag } from '@promptmill/infra';
import type postgres from 'postgres';
import { inject } from 'vitest';
import { E2E_ENV } from './global-setup.ts';
import { call } from './helpers.ts';
import { type ExtraApi, startExtraApi } from './limits-support.ts';

/** An api in direct mode on the e2e stack: the stack's provider and retry settings, its own /metrics. */
export function startDirectApi(env: Record<string, string> = {}): Promise<ExtraApi> {
  return startExtraApi({
    ...E2E_ENV,
    SYNC_RUN_MODE: 'direct',
    OPENAI_BASE_URL: inject('mockUrl'),
    ...env,
  });
}

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

export interface RunAnswer {
  status: number;
  contentType: string;
  runId: string | undefined;
  /** the JSON body, or the SSE events (deltas joined into one, since their grouping may differ) */
  body: unknown;
}

/** POST /api/v1/run; with `stream`, reads the SSE events (`disconnectAfterDelta`: drop the connection at the first delta). */
export async function runPrompt(
  baseUrl: string,
  key: string,
  body: Record<string, unknown>,
  opts: { disconnectAfterDelta?: boolean } = {},
): Promise<RunAnswer> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/api/v1/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  const contentType = res.headers.get('content-type') ?? '';
  if (!contentType.startsWith('text/event-stream')) {
    const json = (await res.json()) as { runId?: string };
    return { status: res.status, contentType, runId: json.runId, body: json };
  }
  const events: SseEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  read: for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const lines = buffer
        .slice(0, end)
        .split('\n')
        .filter((l) => !l.startsWith(':'));
      buffer = buffer.slice(end + 2);
      if (lines.length === 0) continue;
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      const data = JSON.parse(lines.find((l) => l.startsWith('data: '))?.slice(6) ?? '{}');
      events.push({ event, data });
      if (event === 'delta' && opts.disconnectAfterDelta) {
        controller.abort();
        break read;
      }
    }
  }
  const text = events
    .filter((e) => e.event === 'delta')
    .map((e) => e.data.delta)
    .join('');
  const others = events.filter((e) => e.event !== 'delta');
  return {
    status: res.status,
    contentType,
    runId: res.headers.get('x-run-id') ?? undefined,
    body: { deltas: text, events: others },
  };
}

/** A run's usage rows as both modes must write them (latency and the provider's own error text aside). */
export async function usageRows(sql: postgres.Sql, runId: string) {
  return sql`
    SELECT kind, seq, model, provider, status, error_code AS "errorCode", prompt_tokens AS "promptTokens",
           completion_tokens AS "completionTokens", cost::text AS cost, cache_hit AS "cacheHit",
           error_detail IS NOT NULL AS "hasDetail"
    FROM usage_events WHERE run_id = ${runId} ORDER BY kind, seq`;
}

/** Polls the run row until it has ended (a disconnected stream's run ends after the answer). */
export async function runEnded(sql: postgres.Sql, runId: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await sql<{ status: string }[]>`SELECT status FROM runs WHERE id = ${runId}`;
    if (row && ['succeeded', 'failed', 'canceled'].includes(row.status)) return row.status;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not end (${row?.status})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET /v1/runs/:id without what differs between two runs of one scenario (ids, mode, prompt, timings). */
export async function runResource(baseUrl: string, key: string, runId: string) {
  const res = await call<{ data: Record<string, unknown> }>('GET', `/v1/runs/${runId}`, { key, baseUrl });
  const { id: _id, mode, prompt: _prompt, timings, links: _links, ...rest } = res.body.data;
  const t = timings as { startedAt: string | null; finishedAt: string | null };
  return {
    mode,
    resource: { ...rest, hasStarted: t.startedAt !== null, hasFinished: t.finishedAt !== null },
  };
}

export type MetricSamples = Map<string, number>;

/** Every sample of the run metrics whose prompt label is `<org tag>/<prompt>`, keyed without it; and the provider series. */
export async function runMetrics(url: string, orgId: string, prompt: string): Promise<MetricSamples> {
  const text = await (await fetch(url)).text();
  const label = `prompt="${orgMetricTag(orgId)}/${prompt}"`;
  const samples: MetricSamples = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^(promptmill_[a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const [, name, labels = '', value] = m;
    const isRunSeries = labels.includes(label);
    const isProviderCount = name === 'promptmill_provider_latency_seconds_count';
    if (!isRunSeries && !isProviderCount) continue;
    if (name!.endsWith('_bucket') || name!.endsWith('_sum')) continue; // timings differ; counts do not
    samples.set(`${name}${labels.replace(label, 'prompt="<p>"')}`, Number(value));
  }
  return samples;
}

/** after − before, for every sample that moved. */
export function increments(before: MetricSamples, after: MetricSamples): Record<string, number> {
  const moved: Record<string, number> = {};
  for (const [key, value] of after) {
    const delta = Math.round((value - (before.get(key) ?? 0)) * 1e9) / 1e9;
    if (delta !== 0) moved[key] = delta;
  }
  return moved;
}

/** The same JSON with every occurrence of the given strings replaced by a placeholder. */
export function withoutMarkers<T>(value: T, markers: Record<string, string>): T {
  let text = JSON.stringify(value);
  for (const [marker, placeholder] of Object.entries(markers)) text = text.replaceAll(marker, placeholder);
  return JSON.parse(text) as T;
}
