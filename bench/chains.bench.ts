// Chain overhead per step: a chain of three sequential steps (each reads the previous output) run
// as one chain run (`POST /v1/workflows/:id/runs`, `Prefer: wait`) against the same three prompts
// run one by one by the client (sync `POST /api/v1/run`, and async `POST /v1/runs` + `Prefer: wait`),
// feeding each output into the next; plus a fan-out chain (three independent steps and a join)
// against the same four runs one by one. One stack, mock provider with zero latency.
//
//   npx tsx bench/chains.bench.ts            (BENCH_SCALE=0.3 for a quick pass)
import { startEphemeralStack } from '@promptmill/dev/stack';
import { type LoadResult, printTable, runLoad } from './lib.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const n = (x: number) => Math.max(10, Math.round(x * scale));
const adminToken = 'bench-admin-token-0123456789';

console.log('starting the stack (embedded Postgres, Temporal dev server, worker, api)…');
const running = await startEphemeralStack({ adminToken, env: { LOG_LEVEL: 'warn', LOG_REQUESTS: 'false' } });
const { stack } = running;
const api = stack.apiUrl;
const json = { 'content-type': 'application/json' };

async function post(path: string, headers: Record<string, string>, body: unknown) {
  const r = await fetch(`${api}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : {}) as unknown };
}

try {
  const org = await post(
    '/admin/v1/orgs',
    { ...json, authorization: `Bearer ${adminToken}` },
    {
      name: 'bench-chains',
      plan: 'enterprise',
      limits: { perMinute: 10_000_000, perDay: 100_000_000 },
    },
  );
  const auth = {
    ...json,
    authorization: `Bearer ${(org.body as { data: { key: { key: string } } }).data.key.key}`,
  };
  for (const [name, template] of [
    ['draft', 'Draft a note about {{topic}}.'],
    ['tighten', 'Tighten: {{text}}'],
    ['title', 'Title for: {{text}}'],
    ['join', 'Join: {{a}} | {{b}} | {{c}}'],
  ] as const) {
    await post('/v1/prompts', auth, { name });
    const v = await post(`/v1/prompts/${name}/versions`, auth, {
      template,
      model: 'mock-1',
      labels: ['production'],
    });
    if (v.status !== 201) throw new Error(`setup: ${v.status} ${JSON.stringify(v.body)}`);
  }
  const seq = await post('/v1/workflows', auth, {
    name: 'bench-seq',
    input: [{ name: 'topic' }],
    steps: [
      { id: 'draft', prompt: 'draft', variables: { topic: '{{input.topic}}' } },
      {
        id: 'tighten',
        prompt: 'tighten',
        dependsOn: ['draft'],
        variables: { text: '{{steps.draft.output}}' },
      },
      {
        id: 'title',
        prompt: 'title',
        dependsOn: ['tighten'],
        variables: { text: '{{steps.tighten.output}}' },
      },
    ],
  });
  const fan = await post('/v1/workflows', auth, {
    name: 'bench-fan',
    input: [{ name: 'topic' }],
    steps: [
      { id: 'a', prompt: 'draft', variables: { topic: '{{input.topic}} 1' } },
      { id: 'b', prompt: 'draft', variables: { topic: '{{input.topic}} 2' } },
      { id: 'c', prompt: 'draft', variables: { topic: '{{input.topic}} 3' } },
      {
        id: 'j',
        prompt: 'join',
        dependsOn: ['a', 'b', 'c'],
        variables: { a: '{{steps.a.output}}', b: '{{steps.b.output}}', c: '{{steps.c.output}}' },
      },
    ],
  });
  if (seq.status !== 201 || fan.status !== 201) throw new Error('defining the chains failed');
  const seqId = (seq.body as { data: { id: string } }).data.id;
  const fanId = (fan.body as { data: { id: string } }).data.id;
  const waitHeaders = { ...auth, prefer: 'wait=60' };

  const chainRun = (id: string) => async () => {
    const r = await post(`/v1/workflows/${id}/runs`, waitHeaders, { input: { topic: 'owls' } });
    return r.status === 200 && (r.body as { data: { status: string } }).data.status === 'succeeded';
  };
  const syncRun = async (promptName: string, variables: Record<string, string>) => {
    const r = await post('/api/v1/run', auth, { promptName, variables });
    if (r.status !== 200) throw new Error(`sync run ${r.status}`);
    return (r.body as { output: string }).output;
  };
  const asyncRun = async (prompt: string, variables: Record<string, string>) => {
    const r = await post('/v1/runs', waitHeaders, { prompt, variables });
    const data = (r.body as { data: { status: string; output: string } }).data;
    if (r.status !== 200 || data.status !== 'succeeded') throw new Error(`async run ${r.status}`);
    return data.output;
  };
  const oneByOne = (run: typeof syncRun) => async () => {
    const draft = await run('draft', { topic: 'owls' });
    const tight = await run('tighten', { text: draft });
    await run('title', { text: tight });
    return true;
  };
  const fanOneByOne = (run: typeof syncRun) => async () => {
    const [a, b, c] = await Promise.all(['1', '2', '3'].map((i) => run('draft', { topic: `owls ${i}` })));
    await run('join', { a: a!, b: b!, c: c! });
    return true;
  };

  // warm-up: JIT, pools, Temporal sticky caches
  await runLoad('warm-up', { concurrency: 2, total: 20, maxMs: 60_000 }, chainRun(seqId));
  await runLoad('warm-up', { concurrency: 2, total: 20, maxMs: 60_000 }, oneByOne(asyncRun));

  const rows: LoadResult[] = [];
  for (const c of [1, 8]) {
    const total = n(c === 1 ? 40 : 120);
    const opts = { concurrency: c, total, maxMs: 120_000 };
    rows.push(await runLoad('3 sequential steps: one chain run', opts, chainRun(seqId)));
    rows.push(await runLoad('3 sequential steps: sync runs one by one', opts, oneByOne(syncRun)));
    rows.push(await runLoad('3 sequential steps: async runs one by one', opts, oneByOne(asyncRun)));
    rows.push(await runLoad('fan-out 3 + join: one chain run', opts, chainRun(fanId)));
    rows.push(await runLoad('fan-out 3 + join: sync runs by the client', opts, fanOneByOne(syncRun)));
  }

  console.log(
    `\nPromptmill chain benchmark (scale ${scale}; mock provider, zero latency; ${process.version})\n`,
  );
  printTable(rows);
  const row = (label: string, c: number) => rows.find((r) => r.label === label && r.concurrency === c)!;
  for (const c of [1, 8]) {
    const chain = row('3 sequential steps: one chain run', c);
    for (const base of ['sync', 'async'] as const) {
      const b = row(`3 sequential steps: ${base} runs one by one`, c);
      console.log(
        `@${c} clients, chain overhead per step vs ${base} runs one by one: p50 ${((chain.p50 - b.p50) / 3).toFixed(1)} ms, ` +
          `mean ${((chain.mean - b.mean) / 3).toFixed(1)} ms (chain p50 ${chain.p50.toFixed(1)} ms, one by one ${b.p50.toFixed(1)} ms)`,
      );
    }
    const fanChain = row('fan-out 3 + join: one chain run', c);
    const fanSync = row('fan-out 3 + join: sync runs by the client', c);
    console.log(
      `@${c} clients, fan-out chain vs the client's own parallel sync runs: p50 ${fanChain.p50.toFixed(1)} vs ${fanSync.p50.toFixed(1)} ms`,
    );
  }
} finally {
  await running.stop();
}
