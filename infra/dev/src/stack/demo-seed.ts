import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface DemoSeed {
  orgId: string;
  apiKey: string;
  promptName: string;
}

export const DEMO_PROMPT = 'welcome-email';
/** The demo organization's plan: `team` (300 requests a minute), so a tour of the README's curl
 * examples (about 60 requests, test/e2e/readme-curl.test.ts) is not throttled halfway. */
export const DEMO_PLAN = 'team';

async function call(url: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

function dataOf<T>(r: { status: number; body: unknown }, what: string): T {
  if (r.status >= 300)
    throw new Error(`demo seed: ${what} failed with ${r.status}: ${JSON.stringify(r.body)}`);
  return (r.body as { data: T }).data;
}

/**
 * Creates the demo organization, key and prompt through the public API on first start, and
 * reuses them (from dataDir/demo.json) afterwards.
 */
export async function ensureDemoSeed(opts: {
  apiUrl: string;
  adminToken: string;
  dataDir: string;
  model: string;
}): Promise<DemoSeed> {
  const file = resolve(opts.dataDir, 'demo.json');
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as DemoSeed;
    const check = await call(`${opts.apiUrl}/v1/prompts/${saved.promptName}`, {
      headers: { authorization: `Bearer ${saved.apiKey}` },
    });
    if (check.status === 200) return saved;
  }
  const created = dataOf<{ org: { id: string }; key: { key: string } }>(
    await call(`${opts.apiUrl}/admin/v1/orgs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.adminToken}` },
      body: JSON.stringify({
        name: 'Demo',
        plan: DEMO_PLAN,
        owner: { email: 'demo@example.com', name: 'Demo Owner' },
      }),
    }),
    'create demo org',
  );
  const auth = { authorization: `Bearer ${created.key.key}` };
  dataOf(
    await call(`${opts.apiUrl}/v1/prompts`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: DEMO_PROMPT, description: 'Demo: a short welcome email', tags: ['demo'] }),
    }),
    'create demo prompt',
  );
  dataOf(
    await call(`${opts.apiUrl}/v1/prompts/${DEMO_PROMPT}/versions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        messages: [
          { role: 'system', content: 'You write short, warm onboarding emails.' },
          { role: 'user', content: 'Write a welcome email to {{username}} for {{service_name|Promptmill}}.' },
        ],
        model: opts.model,
        params: { temperature: 0.7, maxTokens: 300 },
        labels: ['production'],
      }),
    }),
    'create demo version',
  );
  const seed: DemoSeed = { orgId: created.org.id, apiKey: created.key.key, promptName: DEMO_PROMPT };
  writeFileSync(file, JSON.stringify(seed, null, 2), { mode: 0o600 });
  return seed;
}
