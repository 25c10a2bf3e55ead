/** The api's one time source: auth expiry checks, rate-limit windows and tokens all read it. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/**
 * A clock that a test can move (TEST_CLOCK=true, accepted only with NODE_ENV=test): real time plus
 * an offset set through `PUT /admin/v1/test-clock`. Real time keeps running, so windows still roll.
 */
export interface AdjustableClock {
  now: Clock;
  offsetMs(): number;
  /** sets the offset so that now() reads `at` at this moment */
  setNow(at: Date): void;
  setOffset(ms: number): void;
}

export function createAdjustableClock(initialOffsetMs = 0): AdjustableClock {
  let offset = initialOffsetMs;
  return {
    now: () => new Date(Date.now() + offset),
    offsetMs: () => offset,
    setNow: (at) => {
      offset = at.getTime() - Date.now();
    },
    setOffset: (ms) => {
      offset = ms;
    },
  };
}
