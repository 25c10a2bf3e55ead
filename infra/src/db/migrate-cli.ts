import { createSql } from './client.ts';
import { runMigrations } from './migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    'DATABASE_URL is not set. Example: DATABASE_URL=postgres://user:pass@127.0.0.1:5432/promptmill npm run migrate',
  );
  process.exit(1);
}
const sql = createSql(url, { max: 1, appName: 'promptmill-migrate' });
try {
  const result = await runMigrations(sql);
  console.log(JSON.stringify(result));
} finally {
  await sql.end();
}
