import type { Sql } from '@promptmill/infra/db';
import type { AuthChange } from '../auth/key-cache.ts';
import type { Clock } from '../http/clock.ts';

/** What the accounts room needs: the pool and the api's one clock (expiry, usage periods). */
export interface AccountDeps {
  sql: Sql;
  clock: Clock;
  /**
   * After a committed change to a key, member or organization, before the answer goes out: drops what it
   * concerns from this process's key cache, and waits (about a millisecond) until the NOTIFY the database
   * sent in the change's own transaction (migration 009) has come back to this process — by then it has
   * reached the other processes too. So the caller's next request sees the change, wherever it lands.
   */
  authChanged(change: AuthChange): Promise<void>;
}
