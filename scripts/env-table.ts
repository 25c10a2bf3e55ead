// Prints (or, with --write, puts into README.md) the configuration table, generated from the
// zod env schemas' source: each variable, its doc comment, its default. `npx tsx scripts/env-table.ts --write`
import { readFileSync, writeFileSync } from 'node:fs';

interface Row {
  name: string;
  who: string;
  def: string;
  doc: string;
}

function rowsOf(file: string, who: string): Row[] {
  const lines = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8').split('\n');
  const rows: Row[] = [];
  let doc: string[] = [];
  let inDoc = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.startsWith('/**')) {
      inDoc = !line.endsWith('*/');
      doc = [line.replace(/^\/\*\*\s?/, '').replace(/\s?\*\/$/, '')];
      continue;
    }
    if (inDoc) {
      if (line.endsWith('*/')) inDoc = false;
      if (line === '*/') continue;
      doc.push(line.replace(/^\*\s?/, '').replace(/\s?\*\/$/, ''));
      continue;
    }
    const m = /^([A-Z][A-Z0-9_]+):\s*(.*)$/.exec(line);
    if (m) {
      // the schema expression may span lines: read on until the next key or the end of the object
      let expr = m[2]!;
      for (let j = i + 1; j < lines.length && !/^\s*(\/\*\*|[A-Z][A-Z0-9_]+:|\}\))/.test(lines[j]!); j++)
        expr += lines[j]!.trim();
      const d = /\.default\(([^)]*\)?)\)/.exec(expr);
      let def = d ? d[1]!.replace(/_/g, '') : expr.includes('.optional()') ? '(unset)' : '**required**';
      if (m[1] === 'LOG_LEVEL') def = "'info'";
      rows.push({ name: m[1]!, who, def: def.replace(/'/g, '`'), doc: doc.join(' ').trim() });
      doc = [];
      continue;
    }
    if (line && !line.startsWith('//')) doc = [];
  }
  return rows;
}

const all = [
  ...rowsOf('api/src/env.ts', 'api'),
  ...rowsOf('workers/src/env.ts', 'worker'),
  // the provider settings: the worker's, and the api's in direct mode (SYNC_RUN_MODE=direct)
  ...rowsOf('workers/src/providers/provider-env.ts', 'worker, api (direct mode)'),
  ...rowsOf('infra/src/config/env-schema.ts', 'api, worker'),
];
const merged = new Map<string, Row>();
for (const r of all) {
  const seen = merged.get(r.name);
  if (seen) {
    if (seen.def !== r.def) seen.def = `${seen.def} (${seen.who}), ${r.def} (${r.who})`;
    if (!seen.who.includes(r.who)) seen.who = `${seen.who}, ${r.who}`;
    if (!seen.doc) seen.doc = r.doc;
  } else merged.set(r.name, { ...r });
}
const localStack: Row[] = [
  {
    name: 'PROMPTMILL_DATA_DIR',
    who: 'npm start',
    def: '`.data`',
    doc: 'Where embedded Postgres, the Temporal sqlite file, the admin token and the demo key live.',
  },
  {
    name: 'POSTGRES_PORT',
    who: 'npm start',
    def: '`54329`',
    doc: 'Port of the embedded Postgres (unused when DATABASE_URL is set).',
  },
  {
    name: 'TEMPORAL_PORT',
    who: 'npm start',
    def: '`7233`',
    doc: 'Port of the Temporal dev server (unused when TEMPORAL_ADDRESS is set).',
  },
  { name: 'TEMPORAL_UI_PORT', who: 'npm start', def: '`8233`', doc: 'Port of the Temporal UI.' },
  {
    name: 'TEMPORAL_CLI_PATH',
    who: 'npm start, tests',
    def: '`.venv/bin/temporal`',
    doc: 'A temporal binary to use instead of the one scripts/setup.sh installs.',
  },
  {
    name: 'PROMETHEUS_BIN_DIR',
    who: 'setup, tests',
    def: '`.venv/prometheus/bin`',
    doc: 'A folder with `prometheus` and `promtool` to use instead of the ones scripts/setup.sh unpacks.',
  },
  {
    name: 'MOCK_PROVIDER_PORT',
    who: 'npm start',
    def: '`0` (any)',
    doc: 'Port of the built-in mock provider (started when OPENAI_API_KEY is unset).',
  },
  {
    name: 'DEMO_MODEL',
    who: 'npm start',
    def: '`gpt-4o-mini`',
    doc: 'Model of the demo prompt when a real provider is configured (`mock-1` with the mock).',
  },
  {
    name: 'BENCH_SCALE',
    who: 'bench',
    def: '`1`',
    doc: 'Multiplies the request counts of bench/runs.bench.ts (0.3 for a quick pass).',
  },
  {
    name: 'PROMPTMILL_API_KEY',
    who: 'sdk, cli',
    def: '(unset)',
    doc: 'API key of `new Promptmill()` and the `promptmill` command when none is given (the CLI: over its saved login; a comma-separated list is a fallback list).',
  },
  {
    name: 'PROMPTMILL_BASE_URL',
    who: 'sdk, cli',
    def: '`http://127.0.0.1:3000`',
    doc: 'API base URL of the SDK and the CLI when none is given.',
  },
];
const fmt = (rows: Row[]) =>
  [
    '| variable | used by | default | what |',
    '|---|---|---|---|',
    ...rows.map((r) => `| \`${r.name}\` | ${r.who} | ${r.def} | ${r.doc.replace(/\|/g, '\\|')} |`),
  ].join('\n');
const table = `${fmt([...merged.values()])}\n\nLocal stack and tooling only:\n\n${fmt(localStack)}`;

if (process.argv.includes('--write')) {
  const readmeUrl = new URL('../README.md', import.meta.url);
  const readme = readFileSync(readmeUrl, 'utf8');
  const start = '<!-- env-table:start -->';
  const end = '<!-- env-table:end -->';
  const next = readme.includes(start)
    ? readme.replace(new RegExp(`${start}[\\s\\S]*${end}`), `${start}\n${table}\n${end}`)
    : readme.replace('ENV_TABLE_PLACEHOLDER', `${start}\n${table}\n${end}`);
  writeFileSync(readmeUrl, next);
} else {
  console.log(table);
}
