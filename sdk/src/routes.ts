/**
 * Every operation the SDK calls, by name: method and the path as the api's OpenAPI document spells it
 * (`{param}`). Methods call the api only through this table, so a test can hold it against the served
 * `/openapi.json` in both directions (test/e2e/sdk-contract.test.ts): nothing here that the api does
 * not serve, and nothing the api serves under these paths that is missing here.
 */
export const ROUTES = {
  me: { method: 'GET', path: '/v1/me' },

  'prompts.create': { method: 'POST', path: '/v1/prompts' },
  'prompts.list': { method: 'GET', path: '/v1/prompts' },
  'prompts.get': { method: 'GET', path: '/v1/prompts/{idOrName}' },
  'prompts.update': { method: 'PATCH', path: '/v1/prompts/{idOrName}' },
  'prompts.delete': { method: 'DELETE', path: '/v1/prompts/{idOrName}' },
  'prompts.render': { method: 'POST', path: '/v1/prompts/{idOrName}/render' },
  'versions.create': { method: 'POST', path: '/v1/prompts/{idOrName}/versions' },
  'versions.list': { method: 'GET', path: '/v1/prompts/{idOrName}/versions' },
  'versions.get': { method: 'GET', path: '/v1/prompts/{idOrName}/versions/{n}' },
  'labels.list': { method: 'GET', path: '/v1/prompts/{idOrName}/labels' },
  'labels.set': { method: 'PUT', path: '/v1/prompts/{idOrName}/labels/{label}' },
  'labels.delete': { method: 'DELETE', path: '/v1/prompts/{idOrName}/labels/{label}' },

  'templates.list': { method: 'GET', path: '/v1/templates' },
  'templates.get': { method: 'GET', path: '/v1/templates/{id}' },
  'templates.use': { method: 'POST', path: '/v1/templates/{id}/use' },

  'keys.create': { method: 'POST', path: '/v1/keys' },
  'keys.list': { method: 'GET', path: '/v1/keys' },
  'keys.get': { method: 'GET', path: '/v1/keys/{id}' },
  'keys.update': { method: 'PATCH', path: '/v1/keys/{id}' },
  'keys.revoke': { method: 'DELETE', path: '/v1/keys/{id}' },
  'keys.rotate': { method: 'POST', path: '/v1/keys/{id}/rotate' },
  'keys.analytics': { method: 'GET', path: '/v1/keys/{id}/analytics' },

  'members.list': { method: 'GET', path: '/v1/members' },
  'members.get': { method: 'GET', path: '/v1/members/{id}' },
  'members.add': { method: 'POST', path: '/v1/members' },
  'members.remove': { method: 'DELETE', path: '/v1/members/{id}' },
  'members.suspend': { method: 'POST', path: '/v1/members/{id}/suspend' },
  'members.unsuspend': { method: 'POST', path: '/v1/members/{id}/unsuspend' },

  'runs.sync': { method: 'POST', path: '/api/v1/run' },
  'agents.execute': { method: 'POST', path: '/v1/agents/{promptId}/execute' },
  'runs.start': { method: 'POST', path: '/v1/runs' },
  'runs.list': { method: 'GET', path: '/v1/runs' },
  'runs.get': { method: 'GET', path: '/v1/runs/{id}' },
  'runs.cancel': { method: 'POST', path: '/v1/runs/{id}/cancel' },

  'workflows.create': { method: 'POST', path: '/v1/workflows' },
  'workflows.list': { method: 'GET', path: '/v1/workflows' },
  'workflows.get': { method: 'GET', path: '/v1/workflows/{id}' },
  'workflows.update': { method: 'PUT', path: '/v1/workflows/{id}' },
  'workflows.delete': { method: 'DELETE', path: '/v1/workflows/{id}' },
  'workflows.run': { method: 'POST', path: '/v1/workflows/{id}/runs' },
  'workflows.runs': { method: 'GET', path: '/v1/workflows/{id}/runs' },
  'workflowRuns.list': { method: 'GET', path: '/v1/workflow-runs' },
  'workflowRuns.get': { method: 'GET', path: '/v1/workflow-runs/{id}' },
  'workflowRuns.cancel': { method: 'POST', path: '/v1/workflow-runs/{id}/cancel' },

  'webhooks.create': { method: 'POST', path: '/v1/webhooks' },
  'webhooks.list': { method: 'GET', path: '/v1/webhooks' },
  'webhooks.defaultSecret': { method: 'GET', path: '/v1/webhooks/default-secret' },
  'webhooks.get': { method: 'GET', path: '/v1/webhooks/{id}' },
  'webhooks.update': { method: 'PATCH', path: '/v1/webhooks/{id}' },
  'webhooks.delete': { method: 'DELETE', path: '/v1/webhooks/{id}' },
  'webhooks.rotateSecret': { method: 'POST', path: '/v1/webhooks/{id}/rotate-secret' },
  'webhooks.test': { method: 'POST', path: '/v1/webhooks/{id}/test' },
  'webhooks.deliveries': { method: 'GET', path: '/v1/webhooks/{id}/deliveries' },
  'webhooks.retryDelivery': { method: 'POST', path: '/v1/webhooks/deliveries/{msgId}/retry' },

  usage: { method: 'GET', path: '/v1/usage' },
  billing: { method: 'GET', path: '/v1/billing' },

  'alerts.create': { method: 'POST', path: '/v1/alerts' },
  'alerts.list': { method: 'GET', path: '/v1/alerts' },
  'alerts.get': { method: 'GET', path: '/v1/alerts/{id}' },
  'alerts.update': { method: 'PATCH', path: '/v1/alerts/{id}' },
  'alerts.delete': { method: 'DELETE', path: '/v1/alerts/{id}' },
} as const satisfies Record<string, { method: HttpMethod; path: string }>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type RouteName = keyof typeof ROUTES;

/**
 * Path prefixes whose operations the SDK covers completely: every operation the api documents under
 * one of them must have a route above (the contract test checks it).
 */
export const COVERED_PATH_PREFIXES = [
  '/v1/me',
  '/v1/prompts',
  '/v1/templates',
  '/v1/keys',
  '/v1/members',
  '/api/v1/run',
  '/v1/agents',
  '/v1/runs',
  '/v1/workflows',
  '/v1/workflow-runs',
  '/v1/webhooks',
  '/v1/usage',
  '/v1/billing',
  '/v1/alerts',
] as const;

/** Fills `{param}` placeholders, percent-encoding each value. */
export function expandPath(path: string, params: Record<string, string | number> = {}): string {
  return path.replace(/\{([A-Za-z_]+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === '') throw new TypeError(`Missing path parameter '${name}'`);
    return encodeURIComponent(String(value));
  });
}
