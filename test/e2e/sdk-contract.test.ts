// The SDK's route table against the OpenAPI document the api serves, both ways: every operation the SDK
// calls is served, and every operation the api documents under the SDK's paths has an SDK method. Routes
// other branches are adding (chains, webhooks, usage, billing, alerts, key analytics) are skipped, with
// the reason, while the api does not serve them, and checked as soon as it does.
import { describe, expect, it } from 'vitest';
import { COVERED_PATH_PREFIXES, ROUTES } from '../../sdk/src/index.ts';
import { servedOpenApi } from './sdk-support.ts';

const PENDING = [
  '/v1/workflows',
  '/v1/workflow-runs',
  '/v1/webhooks',
  '/v1/usage',
  '/v1/billing',
  '/v1/alerts',
];
const isPending = (path: string) =>
  PENDING.some((p) => path === p || path.startsWith(`${p}/`)) || path === '/v1/keys/{id}/analytics';
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
  it('every SDK operation outside the pending groups is served, with the same path parameters', async () => {
    const served = await servedOps();
    const missing = sdkOps
      .filter((o) => !isPending(o.path) && !served.has(o.op))
      .map((o) => `${o.name}: ${o.op}`);
    expect(missing).toEqual([]);
  });

  it('every operation the api documents under the SDK paths has an SDK method', async () => {
    const ours = new Set(sdkOps.map((o) => o.op));
    const uncovered = [...(await servedOps())].filter((op) => covers(op.split(' ')[1]!) && !ours.has(op));
    expect(uncovered).toEqual([]);
  });

  for (const group of PENDING.concat('/v1/keys/{id}/analytics')) {
    it(`${group}: the SDK's operations are served once the api has them`, async (ctx) => {
      const served = await servedOps();
      const inGroup = sdkOps.filter((o) =>
        group.includes('{') ? o.path === group : o.path === group || o.path.startsWith(`${group}/`),
      );
      const present = inGroup.filter((o) => served.has(o.op));
      if (present.length === 0) {
        ctx.skip(
          `the api does not serve ${group} yet (another branch adds it): nothing to hold the SDK against`,
        );
      }
      // once any route of the group is served, all of the SDK's must be
      expect(inGroup.filter((o) => !served.has(o.op)).map((o) => `${o.name}: ${o.op}`)).toEqual([]);
    });
  }
});
