import postgres from 'postgres';

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;
/** A pool or a transaction: query functions accept either. */
export type Queryable = Sql | TransactionSql;

export interface SqlOptions {
  max?: number;
  /** application_name shown in pg_stat_activity */
  appName?: string;
}

/** One pool per process. Numeric columns come back as JS numbers (money and token sums fit). */
export function createSql(url: string, opts: SqlOptions = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: opts.appName ?? 'promptmill' },
    types: {
      numeric: {
        to: 1700,
        from: [1700],
        serialize: (v: number) => String(v),
        parse: (v: string) => Number(v),
      },
      bigint: {
        to: 20,
        from: [20],
        serialize: (v: number) => String(v),
        parse: (v: string) => Number(v),
      },
    },
  });
}
