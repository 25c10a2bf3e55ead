import { randomUUID } from 'node:crypto';
import {
  type AuthInvalidation,
  listenAuthInvalidations,
  type Sql,
  sendAuthProbe,
} from '@promptmill/infra/db';
import type { Logger } from '@promptmill/infra/logger';
import type { KeyCache } from './key-cache.ts';

/**
 * Keeps this process's key cache in step with the database: LISTENs on `pm_auth_invalidate` (migration
 * 009's triggers) and hands every change to the cache, and says whether the cache may be trusted.
 *
 * NOTIFY is not durable: a message sent while the listening connection is down is lost. So liveness is
 * confirmed, not assumed. Every `probeIntervalMs` the process sends a probe through the same channel;
 * Postgres delivers notifications in commit order, so when a probe sent at T comes back, every change
 * committed before T has been delivered. The cache is live while a probe sent within the last
 * `liveWindowMs` has come back: a change committed at C is then in the cache by C + liveWindowMs at the
 * latest, whatever happened to the connection (normally within milliseconds: the NOTIFY itself). When
 * liveness lapses the cache is dropped and every request reads its key until probes come back; after a
 * reconnection (a new LISTEN) the cache is dropped too. A listener that stays silent for `restartAfterMs`
 * is replaced by a new connection.
 *
 * The connection is its own (`connect`), not the request pool: a probe must not queue behind requests.
 *
 * `settle()` is the same probe, on demand: an api process that has just committed a change waits for it
 * (about a millisecond) before answering, so the change has reached its own listener — and, at about
 * the same moment, every other process's — before the client can send its next request.
 */
export interface KeyInvalidation {
  isLive(): boolean;
  /** resolves once every change committed before the call has reached this process (or after liveWindowMs) */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export interface KeyInvalidationOptions {
  /** a new connection (pool of 1; postgres.js adds its LISTEN connection) */
  connect(): Sql;
  cache: Pick<KeyCache, 'invalidate' | 'clear'>;
  logger: Logger;
  probeIntervalMs?: number;
  liveWindowMs?: number;
  restartAfterMs?: number;
  monotonicMs?: () => number;
}

export function startKeyInvalidation(opts: KeyInvalidationOptions): KeyInvalidation {
  const probeIntervalMs = opts.probeIntervalMs ?? 250;
  const liveWindowMs = opts.liveWindowMs ?? 1_000;
  const restartAfterMs = opts.restartAfterMs ?? 5_000;
  const monotonic = opts.monotonicMs ?? (() => performance.now());
  const self = randomUUID().slice(0, 8);

  let conn: Sql | undefined;
  let listening = false;
  let connectedAt = monotonic();
  /** the latest send time of a probe of ours that came back */
  let confirmed = Number.NEGATIVE_INFINITY;
  /** probes are numbered; one connection sends them in order, so they commit (and come back) in order */
  let seq = 0;
  const sentAt = new Map<number, number>();
  const settling = new Set<{ seq: number; done: () => void }>();
  let probing = false;
  let wasLive = false;
  let stopped = false;

  const isLive = () => listening && monotonic() - confirmed < liveWindowMs;

  const onMessage = (message: AuthInvalidation) => {
    if (message.kind === 'probe') {
      if (message.from !== self) return;
      for (const [n, at] of sentAt) {
        if (n > message.n) break;
        confirmed = Math.max(confirmed, at);
        sentAt.delete(n);
      }
      for (const s of settling) if (s.seq <= message.n) s.done();
      return;
    }
    opts.cache.invalidate(message);
  };

  /** Sends the next probe; its number (undefined when not listening). */
  const sendProbe = (): number | undefined => {
    if (!conn || !listening) return undefined;
    const n = ++seq;
    sentAt.set(n, monotonic());
    sendAuthProbe(conn, self, n).catch((err: unknown) => {
      sentAt.delete(n);
      for (const s of settling) if (s.seq === n) s.done(); // it will not come back
      opts.logger.debug({ err }, 'auth cache probe failed');
    });
    return n;
  };

  const probe = () => {
    if (probing) return;
    const n = sendProbe();
    if (n === undefined) return;
    probing = true; // one periodic probe in flight at a time
    const s = {
      seq: n,
      done: () => {
        settling.delete(s);
        probing = false;
      },
    };
    settling.add(s);
  };

  const connect = () => {
    if (stopped) return;
    const c = opts.connect();
    conn = c;
    listening = false;
    connectedAt = monotonic();
    listenAuthInvalidations(c, onMessage, () => {
      if (conn !== c) return;
      // messages sent before this LISTEN took effect may be lost: forget everything read before it
      opts.cache.clear();
      listening = true;
      probe();
    }).catch((err: unknown) => {
      if (conn === c) opts.logger.warn({ err }, 'auth cache: LISTEN failed; keys are read on every request');
    });
  };

  const restart = () => {
    const old = conn;
    conn = undefined;
    listening = false;
    sentAt.clear();
    for (const s of settling) s.done(); // their probes went with the old connection
    void old?.end({ timeout: 0 }).catch(() => {});
    connect();
  };

  const timer = setInterval(() => {
    const live = isLive();
    if (wasLive && !live) {
      opts.cache.clear();
      opts.logger.warn(
        'auth cache: invalidation listener not confirmed live; keys are read on every request',
      );
    } else if (!wasLive && live) {
      opts.logger.info('auth cache: invalidation listener live');
    }
    wasLive = live;
    const silentFor = monotonic() - Math.max(confirmed, connectedAt);
    if (!live && silentFor > restartAfterMs) restart();
    else probe();
  }, probeIntervalMs);
  timer.unref();
  connect();

  return {
    isLive,
    settle() {
      const n = isLive() ? sendProbe() : undefined;
      // not live: the cache is bypassed, so nothing stale can be served anyway
      if (n === undefined) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timeout = setTimeout(() => s.done(), liveWindowMs);
        timeout.unref();
        const s = {
          seq: n,
          done: () => {
            clearTimeout(timeout);
            settling.delete(s);
            resolve();
          },
        };
        settling.add(s);
      });
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const s of settling) s.done();
      const c = conn;
      conn = undefined;
      listening = false;
      await c?.end({ timeout: 1 });
    },
  };
}
