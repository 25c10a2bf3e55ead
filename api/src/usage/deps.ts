import type { Sql } from '@promptmill/infra/db';
import type { Clock } from '../http/clock.ts';

export interface UsageDeps {
  sql: Sql;
  /** the api's one clock (movable in tests under TEST_CLOCK) */
  clock: Clock;
}
