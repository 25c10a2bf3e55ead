// The SDK's route table against the OpenAPI document the api serves, both ways: every operation the SDK
// calls is served, and every operation the api documents under the SDK's paths has an SDK method. Every
// group (prompts … chains, webhooks, usage, billing, alerts, key analytics) is on main now: none is
// skipped, and each group has its own test so a failure names it.
import { describe, expect, it } from 'vitest';
import { COVERED_PATH_PREFIXES, ROUTES } from '../../sdk/src/index.ts';
import { servedOpenApi } from './sdk-support.ts';

const covers = (path: string) => COVERED_PATH_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
const sdkOps = Object.entries(ROUTES).map(([name, r]) => ({
  name,
  op: `${r.method} ${r.path}`,
  path: r.path,
}));

async function servedOps(): Promise<Set<string>> {
  const doc = await servedOpenApi();
  const ops = new Set<string>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const m of Object.keys(methods)) ops.add(`${m.toUpperCase()} ${path}`);
  }
  return ops;
}

describe('SDK ↔ served OpenAPI document', () => {
  it('every SDK operation is served, with the same path parameters', async () => {
    const served = await servedOps();
    const missing = sdkOps.filter((o) => !served.has(o.op)).map((o) => `${o.name}: ${o.op}`);
    expect(missing).toEqual([]);
  });

  it('every operation the api documents under the SDK paths has an SDK method', async () => {
    const ours = new Set(sdkOps.map((o) => o.op));
    const uncovered = [...(await servedOps())].filter((op) => covers(op.split(' ')[1]!) && !ours.has(op));
    expect(uncovered).toEqual([]);
  });

  for (const group of COVERED_PATH_PREFIXES) {
    it(`${group}: served and covered both ways`, async () => {
      const served = await servedOps();
      const inGroup = (path: string) => path === group || path.startsWith(`${group}/`);
      const ours = sdkOps.filter((o) => inGroup(o.path));
      const theirs = [...served].filter((op) => inGroup(op.split(' ')[1]!));
      expect(theirs.length).toBeGreaterThan(0);
      expect(ours.filter((o) => !served.has(o.op)).map((o) => `${o.name}: ${o.op}`)).toEqual([]);
      expect(theirs.filter((op) => !ours.some((o) => o.op === op))).toEqual([]);
    });
  }

  it('webhooks: every route the api serves, by name', () => {
    // the webhooks group in full (API.md), so dropping a method fails here even if the route goes too
    expect(sdkOps.filter((o) => o.path.startsWith('/v1/webhooks')).map((o) => o.op)).toEqual([
      'POST /v1/webhooks',
      'GET /v1/webhooks',
      'GET /v1/webhooks/default-secret',
      'GET /v1/webhooks/{id}',
      'PATCH /v1/webhooks/{id}',
      'DELETE /v1/webhooks/{id}',
      'POST /v1/webhooks/{id}/rotate-secret',
      'POST /v1/webhooks/{id}/test',
      'GET /v1/webhooks/{id}/deliveries',
      'POST /v1/webhooks/deliveries/{msgId}/retry',
    ]);
  });
});
