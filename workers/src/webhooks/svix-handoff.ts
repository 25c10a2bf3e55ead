import type { DeliveryTarget } from '@promptmill/infra/db';
import { ApiException, Svix } from 'svix';

// Svix mode (SVIX_TOKEN): instead of attempting a message itself, the worker hands it to Svix, which
// signs and retries it. One Svix application per organization (uid = org id); each endpoint is
// mirrored as a Svix endpoint (uid = whk_ id, same URL, same whsec_ secret) listening on a channel of
// its own, and each message goes to that channel only (Promptmill already chose its targets), with
// the message id as Svix's eventId and idempotency key, so a retried hand-off creates nothing twice.

export interface SvixHandoff {
  /** Hands a message over; returns the Svix message id. Throws when Svix cannot take it (retried). */
  handOver(target: DeliveryTarget, payload: Record<string, unknown>): Promise<string>;
}

export function createSvixHandoff(opts: { token: string; serverUrl?: string | undefined }): SvixHandoff {
  const svix = new Svix(opts.token, opts.serverUrl ? { serverUrl: opts.serverUrl } : {});
  const apps = new Set<string>();
  // what this process last mirrored per endpoint: its version (updated_at) and secret
  const mirrored = new Map<string, string>();

  async function mirrorEndpoint(t: DeliveryTarget): Promise<void> {
    const endpoint = t.endpointId!;
    const version = `${t.endpointUpdatedAt?.toISOString()}|${t.secrets[0]}`;
    if (mirrored.get(endpoint) === version) return;
    await svix.endpoint.upsert(t.orgId, endpoint, {
      url: t.url!,
      uid: endpoint,
      description: t.description ?? '',
      disabled: false,
      channels: [endpoint],
    });
    const current = await svix.endpoint.getSecret(t.orgId, endpoint);
    // Svix keeps the replaced secret signing for 24 h too, as Promptmill's rotation does
    if (current.key !== t.secrets[0])
      await svix.endpoint.rotateSecret(t.orgId, endpoint, { key: t.secrets[0]! });
    mirrored.set(endpoint, version);
  }

  return {
    async handOver(t, payload) {
      if (!apps.has(t.orgId)) {
        await svix.application.getOrCreate({ name: t.orgId, uid: t.orgId });
        apps.add(t.orgId);
      }
      await mirrorEndpoint(t);
      try {
        const out = await svix.message.create(
          t.orgId,
          { eventType: t.eventType, eventId: t.messageId, payload, channels: [t.endpointId!] },
          { idempotencyKey: t.messageId },
        );
        return out.id;
      } catch (err) {
        // an earlier hand-off of this message got through (its eventId is taken): that one stands
        if (err instanceof ApiException && err.code === 409)
          return (await svix.message.get(t.orgId, t.messageId)).id;
        throw err;
      }
    },
  };
}
