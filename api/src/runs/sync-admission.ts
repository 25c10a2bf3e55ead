/**
 * Load shedding for sync and streaming runs (`POST /api/v1/run`, `POST /v1/agents/:id/execute`).
 *
 * A sync run holds its client's connection for the whole run. Past what the workers can carry,
 * more runs in flight do not finish sooner: they wait in Temporal's task queue for a worker, and
 * latency grows to seconds for everyone (measured on the local stack: at 64 clients a run waited
 * 1.2 s p50 between its row and its first provider call, at 128 clients 1.8 s, for the same
 * throughput as at 16). So each api process admits at most `limit` of them at once and answers the
 * excess at once — before the body is parsed, the key read or anything written — with 503
 * SERVICE_UNAVAILABLE and `Retry-After`: the client (or its load balancer) retries shortly, on
 * this process or another one, instead of queueing.
 *
 * The limit: at most `maxInFlight` (the process's own bound), lowered while runs wait too long for
 * a worker. Each run this process sees end reports its queue delay — from its row's creation to
 * its first provider call, read from the recorded row — and, like TCP's congestion window (AIMD):
 * a delay over `targetQueueMs` cuts the limit to 80 % of the runs in flight (at most once per
 * `targetQueueMs`, since the runs ending next waited in the same queue), and each delay under it
 * raises the limit by one, back up to `maxInFlight`. The limit never goes below MIN_LIMIT, so
 * runs keep ending and reporting. Every api process does this on its own; together they settle
 * where the queue stays short.
 *
 * 503, not 429: 429 RATE_LIMITED tells a tenant it sent too much (its own limits, with
 * X-RateLimit-*); this refusal says the server is busy whoever asks (RFC 9110 §15.6.4), and is what
 * retrying clients and proxies treat as "try again shortly", on any replica.
 */
import type { RequestHandler } from 'express';
import { AppError } from '../http/app-error.ts';

export interface SyncRunAdmission {
  /** Counts the request in flight until its response closes, or refuses it (503) past the limit. */
  readonly middleware: RequestHandler;
  /** Sync and streaming runs this process is handling now. */
  inFlight(): number;
  /** How many it admits at once now (0: no limit). */
  limit(): number;
  /** A finished run's queue delay: from its row's creation to its first provider call. */
  observeQueueDelay(ms: number): void;
}

export interface SyncRunAdmissionOptions {
  /** the most in flight at once; 0 = no limit (nor adaptive one) */
  maxInFlight: number;
  /** queue delay above which the limit is lowered; 0 = the limit stays at maxInFlight */
  targetQueueMs: number;
  /** whole seconds, the Retry-After of a refusal */
  retryAfterSeconds: number;
  /** called once per refused request */
  onShed?: () => void;
  /** monotonic milliseconds (tests) */
  now?: () => number;
}

/** The adaptive limit never goes below this (nor above maxInFlight): runs keep ending and reporting. */
export const MIN_LIMIT = 4;
/** The cut: the limit becomes this share of the runs in flight. */
const DECREASE = 0.8;

export function createSyncRunAdmission(o: SyncRunAdmissionOptions): SyncRunAdmission {
  const now = o.now ?? (() => performance.now());
  let inFlight = 0;
  let limit = o.maxInFlight;
  let lastCutAt = Number.NEGATIVE_INFINITY;
  const overloaded = () =>
    new AppError('SERVICE_UNAVAILABLE', 'The server is at capacity; try again shortly', {
      headers: { 'Retry-After': String(o.retryAfterSeconds) },
      extra: { retryAfter: o.retryAfterSeconds },
    });
  const middleware: RequestHandler = (req, res, next) => {
    if (req.method !== 'POST') {
      next();
      return;
    }
    if (o.maxInFlight > 0 && inFlight >= limit) {
      o.onShed?.();
      next(overloaded());
      return;
    }
    inFlight++;
    // 'close' comes once per response: sent, or its connection gone first
    res.once('close', () => {
      inFlight--;
    });
    next();
  };
  return {
    middleware,
    inFlight: () => inFlight,
    limit: () => (o.maxInFlight > 0 ? limit : 0),
    observeQueueDelay(ms) {
      if (o.maxInFlight === 0 || o.targetQueueMs === 0) return;
      if (ms <= o.targetQueueMs) {
        limit = Math.min(o.maxInFlight, limit + 1);
        return;
      }
      const at = now();
      if (at - lastCutAt < o.targetQueueMs) return;
      lastCutAt = at;
      const cut = Math.max(MIN_LIMIT, Math.min(limit, Math.floor(inFlight * DECREASE)));
      limit = Math.min(o.maxInFlight, cut);
    },
  };
}
