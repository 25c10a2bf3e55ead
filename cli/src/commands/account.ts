import type { Promptmill, Scope, UsageMetrics } from '@promptmill/sdk';
import { type Io, printJson, printTable } from '../output.ts';

export async function createKey(
  pm: Promptmill,
  io: Io,
  opts: {
    name: string;
    scopes: string[];
    promptIds: string[];
    expiresIn?: string | undefined;
    perMinute?: number | undefined;
    perHour?: number | undefined;
    perDay?: number | undefined;
    origins: string[];
    json: boolean;
  },
) {
  const rateLimits = {
    ...(opts.perMinute !== undefined ? { perMinute: opts.perMinute } : {}),
    ...(opts.perHour !== undefined ? { perHour: opts.perHour } : {}),
    ...(opts.perDay !== undefined ? { perDay: opts.perDay } : {}),
  };
  const key = await pm.keys.create({
    name: opts.name,
    ...(opts.scopes.length ? { scopes: opts.scopes as Scope[] } : {}),
    ...(opts.promptIds.length ? { promptIds: opts.promptIds } : {}),
    ...(opts.expiresIn ? { expiresIn: opts.expiresIn } : {}),
    ...(Object.keys(rateLimits).length ? { rateLimits } : {}),
    ...(opts.origins.length ? { allowedOrigins: opts.origins } : {}),
  });
  if (opts.json) return printJson(io, key);
  io.stdout.write(`${key.key}\n`);
  io.stderr.write(`created ${key.id} (${key.name}); the secret above is shown once\n`);
}

export async function listKeys(pm: Promptmill, io: Io, opts: { json: boolean }) {
  const keys = [];
  for (let page = 1; ; page++) {
    const r = await pm.keys.list({ page, perPage: 100 });
    keys.push(...r.data);
    if (r.data.length === 0 || page * r.meta.per_page >= r.meta.total) break;
  }
  if (opts.json) return printJson(io, keys);
  printTable(
    io,
    ['ID', 'NAME', 'KEY', 'STATUS', 'SCOPES', 'LAST USED', 'USES', 'EXPIRES'],
    keys.map((k) => [
      k.id,
      k.name,
      k.summary,
      k.status,
      k.scopes.join(','),
      k.lastUsedAt ?? '-',
      k.usageCount,
      k.expiresAt ?? 'never',
    ]),
  );
}

export async function revokeKey(pm: Promptmill, io: Io, opts: { id: string; json: boolean }) {
  const key = await pm.keys.revoke(opts.id);
  if (opts.json) return printJson(io, key);
  io.stderr.write(`revoked ${key.id} (${key.name})\n`);
}

export async function rotateKey(
  pm: Promptmill,
  io: Io,
  opts: { id: string; grace?: number | undefined; json: boolean },
) {
  const key = await pm.keys.rotate(
    opts.id,
    opts.grace !== undefined ? { gracePeriodSeconds: opts.grace } : {},
  );
  if (opts.json) return printJson(io, key);
  io.stdout.write(`${key.key}\n`);
  io.stderr.write(
    `rotated ${key.id}; the secret above is shown once; the old one works until ${key.previousKeyExpiresAt ?? 'now'}\n`,
  );
}

export async function showUsage(
  pm: Promptmill,
  io: Io,
  opts: {
    from?: string | undefined;
    to?: string | undefined;
    granularity?: 'hour' | 'day' | undefined;
    groupBy?: 'key' | 'prompt' | 'model' | undefined;
    json: boolean;
  },
) {
  const body = await pm.usage({
    ...(opts.from ? { from: opts.from } : {}),
    ...(opts.to ? { to: opts.to } : {}),
    ...(opts.granularity ? { granularity: opts.granularity } : {}),
    ...(opts.groupBy ? { groupBy: opts.groupBy } : {}),
  });
  if (opts.json) return printJson(io, body);
  const cells = (m: UsageMetrics) => [
    m.requests,
    m.errors,
    m.totalTokens,
    format(m.cost),
    m.avgLatencyMs === null ? '-' : Math.round(m.avgLatencyMs),
    m.p95LatencyMs === null ? '-' : Math.round(m.p95LatencyMs),
  ];
  const metrics = ['REQUESTS', 'ERRORS', 'TOKENS', 'COST USD', 'AVG MS', 'P95 MS'];
  io.stderr.write(`${body.from} → ${body.to}, by ${body.groupBy ?? body.granularity}\n`);
  if (body.groupBy) {
    printTable(
      io,
      [body.groupBy.toUpperCase(), 'ID', ...metrics],
      [
        ...body.groups.map((g) => [g.name ?? '-', g.key ?? '-', ...cells(g.totals)]),
        ['TOTAL', '', ...cells(body.totals)],
      ],
    );
  } else {
    printTable(
      io,
      ['FROM', ...metrics],
      [...body.buckets.map((b) => [b.start, ...cells(b)]), ['TOTAL', ...cells(body.totals)]],
    );
  }
}

function format(v: unknown): string {
  if (typeof v === 'number')
    return Number.isInteger(v) ? String(v) : v.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  return v === null || v === undefined ? '' : String(v);
}
