// verifyWebhook against signatures made by the svix package (what Svix and the built-in signer send)
// and against the X-Promptmill-Signature scheme computed independently with node:crypto.
import { createHmac } from 'node:crypto';
import { Webhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { WebhookVerificationError } from './errors.ts';
import { verifyWebhook } from './webhooks.ts';

const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
const payload = JSON.stringify({
  id: 'evt_1',
  event: 'prompt.executed',
  created_at: '2026-11-29T12:00:00Z',
  api_version: '2026-11-01',
  data: { execution_id: 'run_1', tokens_used: 568, cost: 0.0284 },
});

function standardHeaders(body: string, at = new Date(), id = 'msg_1') {
  const signature = new Webhook(secret).sign(id, at, body);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

const legacy = (body: string, key = secret) =>
  `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;

describe('verifyWebhook', () => {
  it('accepts a Standard Webhooks signature made by svix and returns the parsed payload', async () => {
    const event = await verifyWebhook(payload, standardHeaders(payload), secret);
    expect(event).toMatchObject({ id: 'evt_1', event: 'prompt.executed', data: { tokens_used: 568 } });
  });

  it('accepts Headers objects, svix-* names, byte bodies and several signatures (key rotation)', async () => {
    const h = standardHeaders(payload);
    const headers = new Headers({
      'svix-id': h['webhook-id'],
      'svix-timestamp': h['webhook-timestamp'],
      'svix-signature': `v1,AAAA ${h['webhook-signature']}`,
    });
    await expect(verifyWebhook(new TextEncoder().encode(payload), headers, secret)).resolves.toMatchObject({
      id: 'evt_1',
    });
  });

  it('accepts X-Promptmill-Signature: sha256=<hex HMAC of the body keyed with the whole whsec_ string>', async () => {
    const event = await verifyWebhook(payload, { 'X-Promptmill-Signature': legacy(payload) }, secret);
    expect(event.id).toBe('evt_1');
  });

  it('refuses a changed body, a wrong secret, an old timestamp, and no signature at all', async () => {
    const h = standardHeaders(payload);
    const tampered = payload.replace('568', '569');
    await expect(verifyWebhook(tampered, h, secret)).rejects.toBeInstanceOf(WebhookVerificationError);
    const other = `whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}`;
    await expect(verifyWebhook(payload, h, other)).rejects.toThrow(/No matching webhook-signature/);
    const old = standardHeaders(payload, new Date(Date.now() - 10 * 60_000));
    await expect(verifyWebhook(payload, old, secret)).rejects.toThrow(/more than 300 s/);
    await expect(verifyWebhook(payload, {}, secret)).rejects.toThrow(/No webhook-signature/);
    await expect(
      verifyWebhook(tampered, { 'x-promptmill-signature': legacy(payload) }, secret),
    ).rejects.toThrow(/does not match/);
    // keyed with the base64 part only is not the seed scheme
    const wrongKey = legacy(payload, secret.slice('whsec_'.length));
    await expect(verifyWebhook(payload, { 'x-promptmill-signature': wrongKey }, secret)).rejects.toThrow();
    await expect(verifyWebhook(payload, { 'x-promptmill-signature': 'sha256=zz' }, secret)).rejects.toThrow(
      /Malformed/,
    );
  });

  it('checks the Standard Webhooks signature when both are present (it binds the timestamp)', async () => {
    const old = standardHeaders(payload, new Date(Date.now() - 10 * 60_000));
    await expect(
      verifyWebhook(payload, { ...old, 'x-promptmill-signature': legacy(payload) }, secret),
    ).rejects.toThrow(/more than 300 s/);
  });
});
