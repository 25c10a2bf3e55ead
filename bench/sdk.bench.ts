/**
 * What the SDK costs over raw fetch on the full local stack (plain script):
 *
 *   npx tsx bench/sdk.bench.ts        (BENCH_SCALE=0.3 for a quick pass)
 *
 * Same requests both ways: GET /v1/me (the SDK's per-request overhead: key pick, headers, timeout
 * signal, JSON), sync runs, and streaming runs (time to the first delta and to the end).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEphemeralStack } from '@promptmill/dev/stack';
import { Promptmill } from '../sdk/src/index.ts';
import { type LoadResult, printTable, runLoad } from './lib.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const n = (x: number) => Math.max(20, Math.round(x * scale));
const adminToken = 'bench-admin-token-0123456789';

// the SDK's own cost per request, without the stack's noise: a local server that answers at once
{
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"data":{"key":{"id":"key_1"}}}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new Promptmill({ apiKey: 'pm_live_bench', baseUrl: local, maxRetries: 0 });
  const per = async (f: () => Promise<unknown>) => {
    for (let i = 0; i < 200; i++) await f();
    const t0 = performance.now();
    const count = n(3000);
    for (let i = 0; i < count; i++) await f();
    return (performance.now() - t0) / count;
  };
  const raw = () => fetch(`${local}/v1/me`, { headers: { authorization: 'Bearer x' } }).then((r) => r.json());
  const viaSdk = () => client.me();
  const t = { raw: [] as number[], sdk: [] as number[] };
  for (let k = 0; k < 3; k++) {
    t.raw.push(await per(raw));
    t.sdk.push(await per(viaSdk));
  }
  const best = (v: number[]) => Math.min(...v).toFixed(3);
  console.log(
    `local server, one request at a time: raw fetch ${best(t.raw)} ms, SDK ${best(t.sdk)} ms (best of 3)`,
  );
  server.close();
}

console.log('starting the stack (embedded Postgres, Temporal dev server, worker, api)…');
// no adaptive shedding: on a shared machine it refuses runs by the worker's queue wait, which is not
// what this compares
const running = await startEphemeralStack({
  adminToken,
  env: { LOG_LEVEL: 'warn', LOG_REQUESTS: 'false', SYNC_RUN_TARGET_QUEUE_MS: '0' },
});
try {
  const api = running.stack.apiUrl;
  const json = { 'content-type': 'application/json' };
  const created = (await (
    await fetch(`${api}/admin/v1/orgs`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({
        name: 'bench',
        plan: 'enterprise',
        limits: { perMinute: 10_000_000, perDay: 100_000_000 },
      }),
    })
  ).json()) as { data: { key: { key: string } } };
  const key = created.data.key.key;
  const auth = { ...json, authorization: `Bearer ${key}` };
  const pm = new Promptmill({ apiKey: key, baseUrl: api, maxRetries: 0 });
  await pm.prompts.create({ name: 'bench' });
  await pm.prompts.versions.create('bench', {
    template: 'Summarize for {{name}}: the quick brown fox jumps over the lazy dog.',
    model: 'mock-1',
    labels: ['production'],
  });

  const rawMe = async () => {
    const r = await fetch(`${api}/v1/me`, { headers: auth });
    await r.json();
    return r.ok;
  };
  const sdkMe = async () => Boolean((await pm.me()).key.id);
  const runBody = JSON.stringify({ promptName: 'bench', variables: { name: 'Ada' } });
  const rawRun = async () => {
    const r = await fetch(`${api}/api/v1/run`, { method: 'POST', headers: auth, body: runBody });
    return ((await r.json()) as { success?: boolean }).success === true;
  };
  const sdkRun = async () => (await pm.run('bench', { name: 'Ada' })).success;
  const firstDelta: Record<string, number[]> = { raw: [], sdk: [] };
  const streamBody = JSON.stringify({ promptName: 'bench', variables: { name: 'Ada' }, stream: true });
  const rawStream = async () => {
    const t0 = performance.now();
    const r = await fetch(`${api}/api/v1/run`, { method: 'POST', headers: auth, body: streamBody });
    const reader = r.body!.getReader();
    let text = '';
    let first = true;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (first) firstDelta.raw!.push(performance.now() - t0);
      first = false;
      text += new TextDecoder().decode(value);
    }
    return text.includes('event: done');
  };
  const sdkStream = async () => {
    const t0 = performance.now();
    const stream = await pm.stream('bench', { name: 'Ada' });
    let first = true;
    for await (const _ of stream) {
      if (first) firstDelta.sdk!.push(performance.now() - t0);
      first = false;
    }
    return stream.result !== undefined;
  };

  // warm up both paths (connections, caches)
  for (let i = 0; i < 10; i++) await Promise.all([rawMe(), sdkMe(), rawRun(), sdkRun()]);
  const rows: LoadResult[] = [];
  // each pair twice, in both orders, so a busy moment of the shared machine does not land on one side only
  for (const c of [1, 8]) {
    const opts = { concurrency: c, total: n(400), maxMs: 60_000 };
    rows.push(await runLoad('GET /v1/me, raw fetch', opts, rawMe));
    rows.push(await runLoad('GET /v1/me, SDK', opts, sdkMe));
    rows.push(await runLoad('GET /v1/me, SDK', opts, sdkMe));
    rows.push(await runLoad('GET /v1/me, raw fetch', opts, rawMe));
  }
  rows.push(await runLoad('sync run, raw fetch', { concurrency: 8, total: n(200), maxMs: 120_000 }, rawRun));
  rows.push(await runLoad('sync run, SDK', { concurrency: 8, total: n(200), maxMs: 120_000 }, sdkRun));
  rows.push(
    await runLoad('stream run, raw fetch', { concurrency: 4, total: n(100), maxMs: 120_000 }, rawStream),
  );
  rows.push(await runLoad('stream run, SDK', { concurrency: 4, total: n(100), maxMs: 120_000 }, sdkStream));
  printTable(rows);
  for (const [k, v] of Object.entries(firstDelta)) {
    const s = [...v].sort((a, b) => a - b);
    console.log(
      `first delta (${k}): p50 ${s[Math.floor(s.length / 2)]?.toFixed(1)} ms over ${s.length} streams`,
    );
  }
} finally {
  await running.stop();
}
