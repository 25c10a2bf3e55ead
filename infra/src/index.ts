export * from './ids.ts';
export * from './metric-tag.ts';
export * from './plans.ts';
