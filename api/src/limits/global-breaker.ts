/**
 * Per-process circuit breaker: a token bucket refilled at `perMinute` per minute, holding at most
 * `perMinute` tokens. It protects this process (and the counter store behind it) from a flood across
 * all tenants; it is deliberately not shared, so it costs no I/O. Only requests a tenant's limits admit
 * keep their token: a request its own limits refuse gives it back (`refund`), and one known to be refused
 * never takes one, so a tenant flooding past its limit spends nobody else's capacity.
 */
export interface GlobalBreaker {
  /** takes one token; on refusal, the ms until one is available */
  take(): { ok: true } | { ok: false; retryInMs: number };
  /** gives back a token taken for a request that was not served after all */
  refund(): void;
  readonly perMinute: number;
}

export function createGlobalBreaker(
  perMinute: number,
  monotonicMs: () => number = () => performance.now(),
): GlobalBreaker {
  const ratePerMs = perMinute / 60_000;
  let tokens = perMinute;
  let last = monotonicMs();
  const refill = () => {
    const t = monotonicMs();
    tokens = Math.min(perMinute, tokens + (t - last) * ratePerMs);
    last = t;
  };
  return {
    perMinute,
    take() {
      if (perMinute <= 0) return { ok: true };
      refill();
      if (tokens >= 1) {
        tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryInMs: Math.ceil((1 - tokens) / ratePerMs) };
    },
    refund() {
      if (perMinute <= 0) return;
      refill();
      tokens = Math.min(perMinute, tokens + 1);
    },
  };
}
