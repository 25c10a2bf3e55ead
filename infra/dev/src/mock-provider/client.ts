import type { MockRule, RuleInfo } from './behaviors.ts';
import type { CallFilter, MockCall } from './server.ts';

/**
 * HTTP client for the mock provider's control endpoints, for tests that share one mock instance
 * started by another process (e.g. a global setup). `url` is the provider base URL (…/v1) or its
 * origin; both work.
 */
export interface MockControl {
  addRule(rule: MockRule): Promise<string>;
  removeRule(id: string): Promise<boolean>;
  clearRules(): Promise<void>;
  rules(): Promise<RuleInfo[]>;
  calls(filter?: CallFilter): Promise<MockCall[]>;
  resetCalls(): Promise<void>;
}

export function mockControl(url: string): MockControl {
  const origin = new URL(url).origin;

  async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.headers = { 'content-type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    const res = await fetch(`${origin}${path}`, init);
    const json: unknown = await res.json();
    return { status: res.status, json };
  }

  function expectOk(r: { status: number; json: unknown }, what: string): void {
    if (r.status >= 400)
      throw new Error(`mock control ${what} failed (${r.status}): ${JSON.stringify(r.json)}`);
  }

  return {
    async addRule(rule) {
      const r = await call('POST', '/__mock/rules', rule);
      expectOk(r, 'addRule');
      return (r.json as { id: string }).id;
    },
    async removeRule(id) {
      const r = await call('DELETE', `/__mock/rules/${encodeURIComponent(id)}`);
      if (r.status === 404) return false;
      expectOk(r, 'removeRule');
      return true;
    },
    async clearRules() {
      expectOk(await call('DELETE', '/__mock/rules'), 'clearRules');
    },
    async rules() {
      const r = await call('GET', '/__mock/rules');
      expectOk(r, 'rules');
      return (r.json as { rules: RuleInfo[] }).rules;
    },
    async calls(filter) {
      const q = new URLSearchParams();
      if (filter?.contains !== undefined) q.set('contains', filter.contains);
      if (filter?.model !== undefined) q.set('model', filter.model);
      const qs = q.size > 0 ? `?${q.toString()}` : '';
      const r = await call('GET', `/__mock/calls${qs}`);
      expectOk(r, 'calls');
      return (r.json as { calls: MockCall[] }).calls;
    },
    async resetCalls() {
      expectOk(await call('DELETE', '/__mock/calls'), 'resetCalls');
    },
  };
}
