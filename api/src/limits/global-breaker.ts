/**
 * Per-process circuit breaker: a token bucket refilled at `perMinute` per minute, holding at most
 * `perMinute` tokens. It protects this process (and the counter store behind it) from a flood across
 * all tenants; it is deliberately not shared, so it costs no I/O.
 */
export interface GlobalBreaker {
  /** takes one token; on refusal, the ms until one is available */
  take(): { ok: true } | { ok: false; retryInMs: number };
  readonly perMinute: number;
}

export function createGlobalBreaker(
  perMinute: number,
  monotonicMs: () => number = () => performance.now(),
): GlobalBreaker {
  const ratePerMs = perMinute / 60_000;
  let tokens = perMinute;
  let last = monotonicMs();
  return {
    perMinute,
    take() {
      if (perMinute <= 0) return { ok: true };
      const t = monotonicMs();
      tokens = Math.min(perMinute, tokens + (t - last) * ratePerMs);
      last = t;
      if (tokens >= 1) {
        tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryInMs: Math.ceil((1 - tokens) / ratePerMs) };
    },
  };
}
