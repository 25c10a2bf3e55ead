export * from './client.ts';
export * from './migrate.ts';
export * from './queries/keys.queries.ts';
export * from './queries/members.queries.ts';
export * from './queries/orgs.queries.ts';
export * from './queries/prompts.queries.ts';
export * from './queries/runs.queries.ts';
