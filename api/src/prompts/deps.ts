import type { Sql } from '@promptmill/infra/db';

export interface PromptDeps {
  sql: Sql;
}
