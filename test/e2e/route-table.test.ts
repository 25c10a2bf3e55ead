// The OpenAPI document and the router are one route table: every route Express serves is a documented
// operation and every documented operation is served, under every path it is documented for.
// The app is built in-process against the e2e stack's real Postgres and Temporal.
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../api/src/app.ts';
import { loadApiEnv } from '../../api/src/env.ts';
import { DOCS_ASSET_PATHS } from '../../api/src/http/docs.routes.ts';
import { createApiMetrics } from '../../api/src/http/metrics.ts';
import { toOpenApiPath } from '../../api/src/http/openapi.ts';
import { connectTemporal, type TemporalHandle } from '../../api/src/temporal.ts';
import { createSql, type Sql } from '../../infra/src/db/index.ts';
import { createLogger } from '../../infra/src/logger.ts';

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** `METHOD /path` of every route layer in the app's router tree (routers are mounted at /). */
function expressRoutes(app: Express): Set<string> {
  const found = new Set<string>();
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods)) {
          if (method === '_all') continue; // the 405 collector (http/method-not-allowed.ts), not a route
          for (const path of paths) found.add(`${method.toUpperCase()} ${path}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return found;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, unknown>>;
}

/** `METHOD /path` of every operation, with the alias each /v1 path is also served under. */
function documentedRoutes(doc: OpenApiDoc): Set<string> {
  const found = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    const served = path.startsWith('/v1/')
      ? [path, `/api${path}`]
      : path.startsWith('/api/v1/')
        ? [path, path.slice(4)]
        : [path];
    for (const method of Object.keys(ops)) for (const p of served) found.add(`${method.toUpperCase()} ${p}`);
  }
  return found;
}

let sql: Sql;
let temporal: TemporalHandle;
let built: ReturnType<typeof createApp>;

beforeAll(async () => {
  const env = loadApiEnv({
    NODE_ENV: 'test',
    DATABASE_URL: inject('databaseUrl'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    ADMIN_TOKEN: 'route-table-test-token-0123456789',
    TEST_CLOCK: 'true',
    LOG_LEVEL: 'silent',
  });
  sql = createSql(env.DATABASE_URL, { max: 2 });
  temporal = await connectTemporal(env);
  built = createApp({
    env,
    sql,
    temporal,
    logger: createLogger('test', 'silent'),
    metrics: createApiMetrics(),
  });
});

afterAll(async () => {
  await built?.close();
  await temporal?.connection.close();
  await sql?.end();
});

describe('route table', () => {
  it('serves exactly the documented operations, in both directions', async () => {
    const served = expressRoutes(built.app);
    const openApi = built.routes.find((r) => r.doc.path === '/openapi.json');
    expect(openApi).toBeDefined();
    const server = built.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as OpenApiDoc;
      const documented = documentedRoutes(doc);
      const assets = new Set(DOCS_ASSET_PATHS.map((p) => `GET ${p}`));
      // refusals declared in the table with their reason (rejectMethods): served, not operations
      for (const r of built.routes.filter((d) => d.undocumented)) {
        for (const p of r.paths) assets.add(`${r.doc.method.toUpperCase()} ${p}`);
      }
      const toDoc = (route: string) => {
        const [method, path] = route.split(' ');
        return `${method} ${toOpenApiPath(path ?? '')}`;
      };
      const undocumented = [...served].filter((r) => !assets.has(r) && !documented.has(toDoc(r)));
      const unserved = [...documented].filter((r) => ![...served].some((s) => toDoc(s) === r));
      expect(undocumented).toEqual([]);
      expect(unserved).toEqual([]);
      // sanity: the table is the real one
      expect(documented.has('POST /v1/runs')).toBe(true);
      expect(documented.has('POST /api/v1/run')).toBe(true);
      expect(documented.has('GET /healthz')).toBe(true);
    } finally {
      server.close();
    }
  });

  it('declares each method and path once', () => {
    const keys = built.routes.map((r) => `${r.doc.method} ${r.doc.path}`);
    expect(keys.length).toBe(new Set(keys).size);
  });
});
