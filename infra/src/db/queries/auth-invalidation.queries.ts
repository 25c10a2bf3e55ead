import type { Sql } from '../client.ts';

/**
 * Changes that affect authentication or limits (a key, its owner member or its organization changed,
 * was deleted or truncated) are NOTIFYed on this channel by triggers, in the transaction of the change
 * (migration 009). Payloads: `k:<key id>`, `m:<member id>`, `o:<org id>`, `*`; api processes also send
 * `p:<process>:<n>` probes through it, to confirm their own listener is live.
 */
export const AUTH_INVALIDATE_CHANNEL = 'pm_auth_invalidate';

export type AuthInvalidation =
  | { kind: 'key' | 'member' | 'org'; id: string }
  | { kind: 'all' }
  | { kind: 'probe'; from: string; n: number };

const KINDS = { k: 'key', m: 'member', o: 'org' } as const;

/** What a payload asks for; an unknown payload drops everything (never keep a row someone changed). */
export function parseAuthInvalidation(payload: string): AuthInvalidation {
  const probe = /^p:([^:]+):(\d+)$/.exec(payload);
  if (probe) return { kind: 'probe', from: probe[1]!, n: Number(probe[2]) };
  const sep = payload.indexOf(':');
  const kind = KINDS[payload.slice(0, sep) as keyof typeof KINDS];
  if (sep > 0 && kind && payload.length > sep + 1) return { kind, id: payload.slice(sep + 1) };
  return { kind: 'all' };
}

/**
 * LISTENs on the channel over `sql`'s listening connection. `onListen` runs each time the LISTEN takes
 * effect, the first time and after every reconnection (messages sent while disconnected are lost).
 */
export async function listenAuthInvalidations(
  sql: Sql,
  onMessage: (message: AuthInvalidation) => void,
  onListen: () => void,
): Promise<{ unlisten(): Promise<void> }> {
  const { unlisten } = await sql.listen(
    AUTH_INVALIDATE_CHANNEL,
    (payload) => onMessage(parseAuthInvalidation(payload)),
    onListen,
  );
  return { unlisten: async () => void (await unlisten()) };
}

/** One probe through the channel: every listener receives it after every message committed before it. */
export async function sendAuthProbe(sql: Sql, from: string, n: number): Promise<void> {
  await sql`SELECT pg_notify(${AUTH_INVALIDATE_CHANNEL}, ${`p:${from}:${n}`})`;
}
