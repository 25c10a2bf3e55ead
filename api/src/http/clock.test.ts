import { describe, expect, it } from 'vitest';
import { createAdjustableClock } from './clock.ts';

describe('adjustable clock', () => {
  it('reads real time plus an offset that setNow / setOffset move', () => {
    const clock = createAdjustableClock();
    expect(Math.abs(clock.now().getTime() - Date.now())).toBeLessThan(50);
    const target = Date.UTC(2030, 0, 1, 23, 59, 59);
    clock.setNow(new Date(target));
    expect(Math.abs(clock.now().getTime() - target)).toBeLessThan(50);
    clock.setOffset(-1000);
    expect(clock.offsetMs()).toBe(-1000);
    expect(Math.abs(clock.now().getTime() - (Date.now() - 1000))).toBeLessThan(50);
  });
});
