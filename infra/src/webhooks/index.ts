export * from './secrets.ts';
export * from './url-guard.ts';
