import type { Sql } from '@promptmill/infra/db';
import type { Clock } from '../http/clock.ts';

/** What the accounts room needs: the pool and the api's one clock (expiry, usage periods). */
export interface AccountDeps {
  sql: Sql;
  clock: Clock;
}
