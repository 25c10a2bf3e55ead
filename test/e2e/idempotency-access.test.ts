// Hardening item 9: an Idempotency-Key replay is answered only after the prompt-access check, so a
// prompt-restricted key never learns the id or status of a run of a prompt it may not see.
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createOrg, createPrompt, type TestOrg, unique } from './helpers.ts';
import { createKey, errorOf, type KeyBody } from './limits-support.ts';
import { pollRun } from './runs-support.ts';

interface Accepted {
  data: { id: string; status: string };
}

const promptId = async (key: string, name: string) =>
  (await call<{ data: { id: string } }>('GET', `/v1/prompts/${name}`, { key })).body.data.id;

describe('Idempotency-Key replays check prompt access first', () => {
  let org: TestOrg;
  let allowed: string;
  let secret: string;
  let restricted: KeyBody & { key: string };

  beforeAll(async () => {
    org = await createOrg();
    allowed = await createPrompt(org.key, { template: 'allowed {{x}}' });
    secret = await createPrompt(org.key, { template: 'secret {{x}}' });
    restricted = await createKey(org.key, {
      scopes: ['runs:execute', 'runs:read'],
      promptIds: [await promptId(org.key, allowed)],
    });
  });

  const post = (key: string, idem: string, body: Record<string, unknown>, prefer?: string) =>
    call<Accepted>('POST', '/v1/runs', {
      key,
      body,
      headers: { 'idempotency-key': idem, ...(prefer ? { prefer } : {}) },
    });

  it('the same key and body as another key’s run of a forbidden prompt → 403, not the run', async () => {
    const idem = unique('k');
    const body = { prompt: secret, variables: { x: 'classified' } };
    const theirs = await post(org.key, idem, body);
    expect(theirs.status).toBe(202);
    await pollRun(org.key, theirs.body.data.id);

    for (const prefer of [undefined, 'wait=5']) {
      const replay = await post(restricted.key, idem, body, prefer);
      expect(replay.status).toBe(403);
      expect(errorOf(replay.body)).toEqual({
        code: 'FORBIDDEN',
        message: 'This API key is not allowed to run this prompt',
      });
      expect(replay.text).not.toContain(theirs.body.data.id);
      expect(replay.headers.get('location')).toBeNull();
      expect(replay.headers.get('idempotent-replayed')).toBeNull();
    }
    // with another body: the same 403 a fresh request gets, not a conflict that confirms the key
    const other = await post(restricted.key, idem, { prompt: secret, variables: { x: 'other' } });
    expect(other.status).toBe(403);
  });

  it('a replay whose run is of a prompt the key may not see (the name moved) reveals nothing', async () => {
    const idem = unique('k');
    const name = await createPrompt(org.key, { template: 'first {{x}}' });
    const body = { prompt: name, variables: { x: 'moved' } };
    const theirs = await post(org.key, idem, body);
    expect(theirs.status).toBe(202);
    await pollRun(org.key, theirs.body.data.id);
    // the name now belongs to another prompt, one the restricted key may run
    expect(
      (await call('PATCH', `/v1/prompts/${name}`, { key: org.key, body: { name: `${name}-old` } })).status,
    ).toBe(200);
    await createPrompt(org.key, { template: 'second {{x}}' }, { name });
    const scoped = await createKey(org.key, {
      scopes: ['runs:execute', 'runs:read'],
      promptIds: [await promptId(org.key, name)],
    });
    const replay = await post(scoped.key, idem, body);
    expect(replay.status).toBe(409);
    expect(errorOf(replay.body).code).toBe('IDEMPOTENCY_CONFLICT');
    expect(replay.text).not.toContain(theirs.body.data.id);
  });

  it('a restricted key still gets its own replays of allowed prompts', async () => {
    const idem = unique('k');
    const body = { prompt: allowed, variables: { x: 'mine' } };
    const first = await post(restricted.key, idem, body);
    expect(first.status).toBe(202);
    const again = await post(restricted.key, idem, body);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.data.id).toBe(first.body.data.id);
  });
});
