// Runs the README's curl examples (every ```sh block of the "API" section) in order, as a newcomer
// copies them after `npm start`: against the e2e stack, with $KEY the owner key of a fresh organization
// on the demo organization's plan, $ADMIN_KEY the same key and $ADMIN_TOKEN the operator token. Each
// `org_…`, `key_…` … placeholder becomes the id the answers before it gave. Every command must answer
// 2xx, except the few listed below with the reason a reader sees in the README.

import { DEMO_PLAN } from '@promptmill/dev/stack';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminToken, apiUrl, createOrg } from './helpers.ts';
import { type CurlResult, readmeCurlCommands, runCurl } from './readme-curl-support.ts';

/** Commands whose documented answer is not a 2xx: [pattern of the command, statuses, why]. */
const NOT_2XX: Array<[RegExp, number[], string]> = [
  [
    /\/cancel /,
    [409],
    'cancels a run the README started just before; on the mock it has usually ended (409)',
  ],
];

const commands = await readmeCurlCommands();
const results: CurlResult[] = [];
let env: { API: string; KEY: string; ADMIN_TOKEN: string; ADMIN_KEY: string };
const ids = new Map<string, string>();

beforeAll(async () => {
  const org = await createOrg({ plan: DEMO_PLAN });
  env = { API: apiUrl, KEY: org.key, ADMIN_TOKEN: adminToken, ADMIN_KEY: org.key };
});

describe('README: the API section’s curl examples, in order', () => {
  it('finds the examples of every part of the section', () => {
    const text = commands.map((c) => c.text).join('\n');
    for (const path of [
      '/admin/v1/orgs',
      '/v1/keys',
      '/v1/members',
      '/v1/prompts',
      '/render',
      '/api/v1/run',
      '/v1/agents/',
      '/v1/runs',
      '/v1/workflows',
      '/v1/workflow-runs',
      '/v1/usage',
      '/v1/billing',
      '/v1/alerts',
      '/oauth/token',
    ])
      expect(text, path).toContain(path);
  });

  for (const command of commands) {
    it(`README.md:${command.line} ${command.text.split('\n')[0]!.slice(0, 70)}`, async (ctx) => {
      // the webhooks part has its own e2e tests (webhooks*.test.ts); its examples need a receiver
      if (/\$API\/v1\/webhooks/.test(command.text)) ctx.skip('webhook examples: see the webhooks e2e tests');
      const r = await runCurl(command, env, ids, 90_000);
      results.push(r);
      const allowed = NOT_2XX.find(([re]) => re.test(r.ran));
      const ok = (r.status >= 200 && r.status < 300) || Boolean(allowed?.[1].includes(r.status));
      expect(ok, `${r.status}: ${r.stdout.slice(0, 600)}\n${r.ran}`).toBe(true);
      expect(r.ran, 'every placeholder has an id from an answer above it').not.toMatch(/\b[a-z]+_…/);
    });
  }

  it('the answers are what the README shows', () => {
    const at = (re: RegExp) => results.find((r) => re.test(r.ran));
    const sync = at(/-X POST \$API\/api\/v1\/run .*\n.*"ticket":"My invoice is wrong"\}\}'$/m);
    expect(sync?.body).toMatchObject({ success: true, output: expect.stringContaining('Echo: ') });
    const stream = at(/"stream":true/);
    expect(stream?.stdout).toMatch(/event: delta[\s\S]*event: done/);
    const render = at(/\/render /);
    expect(JSON.stringify(render?.body)).toContain('Ticket: My invoice is wrong');
    const waited = at(/Prefer: wait=30" -X POST \$API\/v1\/runs/);
    expect(waited?.status).toBe(200);
    expect(waited?.body).toMatchObject({ data: { status: 'succeeded' } });
    const chainRun = at(/\/v1\/workflows\/brief\/runs/);
    expect([200, 202]).toContain(chainRun?.status);
    const oauth = at(/\/oauth\/token/);
    expect(oauth?.body).toMatchObject({ token_type: expect.stringMatching(/bearer/i) });
  });
});
