/**
 * Promptmill as a system under test: an ephemeral stack (embedded Postgres, Temporal dev server,
 * worker, api, mock provider) with a demo org, key and prompt created through the admin and public
 * APIs, and the org's limits raised so nothing is refused.
 *
 * Sync-run mode is a parameter: `workflow` (every sync run is a Temporal workflow, today's path)
 * or `direct` (SYNC_RUN_MODE=direct in the api's env: the api process runs it, api/src/runs/direct/; see
 * syncRunModeSupport()).
 *
 * Its processes are found by walking the bench's process tree (the stack's children are not
 * exposed): api, worker, the Temporal dev server, and the Postgres postmaster with every backend.
 */
import { apiEnvSchema } from '../../api/src/env.ts';
import type { RequestSpec } from '../compare/loadgen.ts';
import { descendants, type ProcessGroup } from '../compare/procstat.ts';
import { EXPECT_TEXT, messageText, type SystemUnderTest } from './request.ts';
import {
  type EphemeralStack,
  freePort,
  type ServiceProcess,
  startEphemeralStack,
  startService,
  stopChild,
} from './stack.ts';

export type SyncRunMode = 'workflow' | 'direct';

const ADMIN_TOKEN = 'bench-compare-admin-token-0123456789';
const PROMPT = 'bench-compare';
const HIGH_LIMITS = { perMinute: 10_000_000, perDay: 100_000_000 };
/**
 * the stack's api and worker: quiet logs, a per-process breaker that never trips, and no load
 * shedding (SYNC_RUN_MAX_IN_FLIGHT=0): the peers queue every request too, and a refusal would count
 * as a failed request
 */
const QUIET = {
  LOG_LEVEL: 'warn',
  LOG_REQUESTS: 'false',
  GLOBAL_RATE_LIMIT_PER_MINUTE: '100000000',
  SYNC_RUN_MAX_IN_FLIGHT: '0',
};

type Parser = { safeParse(value: unknown): { success: boolean } };

/** Whether the api's env schema knows SYNC_RUN_MODE and accepts `mode` for it. */
export function syncRunModeSupport(mode: SyncRunMode): { supported: boolean; reason: string } {
  const shape: Readonly<Record<string, Parser | undefined>> = apiEnvSchema.shape;
  const field = shape.SYNC_RUN_MODE;
  if (!field) return { supported: mode === 'workflow', reason: 'the api has no SYNC_RUN_MODE setting' };
  return field.safeParse(mode).success
    ? { supported: true, reason: `SYNC_RUN_MODE=${mode}` }
    : { supported: false, reason: `the api's SYNC_RUN_MODE does not accept "${mode}"` };
}

export interface PromptmillSystem extends SystemUnderTest {
  mockUrl: string;
  /** the worker process's /metrics (heap and event-loop figures for profiling) */
  workerMetricsUrl: string;
  /** GET /v1/prompts with the key on the stack's api (limits on) and, if started, on a limits-off api */
  rateLimitedRead: { on: RequestSpec; off?: RequestSpec; offProcess?: ProcessGroup };
}

async function call<T>(method: string, url: string, token: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${new URL(url).pathname}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Processes already counted as another stack's (several stacks can run side by side). */
const claimed = new Set<number>();

/** api, worker, Temporal and Postgres among the bench's descendants (the limits-off api excluded). */
function stackProcesses(exclude: ReadonlySet<number>): ProcessGroup[] {
  const groups: ProcessGroup[] = [];
  for (const p of descendants()) {
    if (exclude.has(p.pid) || claimed.has(p.pid)) continue;
    const exe = p.argv[0] ?? '';
    if (p.argv.includes('api/src/main.ts')) groups.push({ name: 'api', pid: p.pid });
    else if (p.argv.includes('workers/src/main.ts')) groups.push({ name: 'worker', pid: p.pid });
    else if (exe.endsWith('/temporal') && p.argv.includes('start-dev'))
      groups.push({ name: 'temporal', pid: p.pid });
    else if (exe.endsWith('/postgres') && p.ppid === process.pid)
      groups.push({ name: 'postgres (all backends)', pid: p.pid });
  }
  const order = ['api', 'worker', 'temporal', 'postgres (all backends)'];
  for (const name of order) {
    if (groups.filter((g) => g.name === name).length !== 1) {
      throw new Error(`expected one ${name} process under the bench, found: ${JSON.stringify(groups)}`);
    }
  }
  for (const g of groups) claimed.add(g.pid);
  for (const pid of exclude) claimed.add(pid);
  return groups.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
}

/** Workflow mode with the api hosting a worker and starting sync runs eagerly on it (A/B against `workflow`). */
export const EAGER_VARIANT = {
  id: 'promptmill-eager',
  label: 'Promptmill, workflow mode, eager start (API_EMBEDDED_WORKER=true)',
  env: { API_EMBEDDED_WORKER: 'true' },
};

export async function startPromptmill(opts: {
  mode: SyncRunMode;
  /** also start an api process with RATE_LIMITS_ENABLED=false for the rate-limited read */
  limitsOffApi?: boolean;
  /** another configuration of the same mode, measured as a system of its own */
  variant?: { id: string; label: string; env: Record<string, string> };
  log?: (line: string) => void;
}): Promise<PromptmillSystem> {
  // pass the mode only when the api knows the setting (an unknown value would be ignored, a wrong one refused)
  const modeEnv = syncRunModeSupport(opts.mode).reason.startsWith('SYNC_RUN_MODE=')
    ? { SYNC_RUN_MODE: opts.mode }
    : {};
  const running: EphemeralStack = await startEphemeralStack({
    adminToken: ADMIN_TOKEN,
    env: { ...QUIET, ...modeEnv, ...opts.variant?.env },
    ...(opts.log ? { log: opts.log } : {}),
  });
  let off: ServiceProcess | undefined;
  try {
    const { stack, mock } = running;
    const api = stack.apiUrl;
    const created = await call<{ data: { org: { id: string }; key: { key: string } } }>(
      'POST',
      `${api}/admin/v1/orgs`,
      ADMIN_TOKEN,
      { name: 'bench-compare', plan: 'enterprise' },
    );
    const key = created.data.key.key;
    await call('PATCH', `${api}/admin/v1/orgs/${created.data.org.id}`, ADMIN_TOKEN, { limits: HIGH_LIMITS });
    await call('POST', `${api}/v1/prompts`, key, { name: PROMPT });
    await call('POST', `${api}/v1/prompts/${PROMPT}/versions`, key, {
      template: '{{text}}',
      model: 'mock-1',
      labels: ['production'],
    });

    if (opts.limitsOffApi) {
      const port = await freePort();
      off = await startService({
        name: 'api-limits-off',
        entry: 'api/src/main.ts',
        env: {
          ...process.env,
          ...QUIET,
          ...modeEnv,
          RATE_LIMITS_ENABLED: 'false',
          DATABASE_URL: stack.databaseUrl,
          TEMPORAL_ADDRESS: stack.temporalAddress,
          OPENAI_BASE_URL: mock.url,
          ADMIN_TOKEN,
          PORT: String(port),
        },
        readyEvent: 'api.ready',
        log: opts.log ?? (() => {}),
      });
    }
    const offPid = off?.child.pid;
    const processes = stackProcesses(new Set(offPid === undefined ? [] : [offPid]));

    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const read = (base: string): RequestSpec => ({
      method: 'GET',
      url: `${base}/v1/prompts`,
      headers: { authorization: `Bearer ${key}` },
      kind: 'json',
      expectText: PROMPT,
    });
    const offProcess = off;
    return {
      id: opts.variant?.id ?? `promptmill-${opts.mode}`,
      label: opts.variant?.label ?? `Promptmill, ${opts.mode} mode`,
      mockUrl: mock.url,
      workerMetricsUrl: stack.workerMetricsUrl,
      request: ({ delayMs, stream }) => ({
        method: 'POST',
        url: `${api}/api/v1/run`,
        headers: auth,
        body: JSON.stringify({
          promptName: PROMPT,
          variables: { text: messageText(delayMs) },
          ...(stream ? { stream: true } : {}),
        }),
        kind: stream ? 'promptmill-sse' : 'json',
        expectText: EXPECT_TEXT,
      }),
      processes,
      rateLimitedRead: {
        on: read(api),
        ...(offProcess && offPid !== undefined
          ? {
              off: read(`http://127.0.0.1:${String(offProcess.ready.port)}`),
              offProcess: { name: 'api (limits off)', pid: offPid },
            }
          : {}),
      },
      stop: async () => {
        if (offProcess) await stopChild(offProcess.child, 30_000);
        await running.stop();
      },
    };
  } catch (err) {
    if (off) await stopChild(off.child, 30_000);
    await running.stop();
    throw err;
  }
}
