import { randomUUID } from 'node:crypto';
import { mockControl } from '@promptmill/dev/mock-provider';
import { inject } from 'vitest';

export const apiUrl = inject('apiUrl');
export const adminToken = inject('adminToken');
export const mock = mockControl(inject('mockUrl'));

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
  baseUrl?: string;
}

/** One HTTP call to the real api; the body is parsed as JSON when it is JSON. */
export async function call<T = Record<string, unknown>>(
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.authorization ??= `Bearer ${opts.key}`;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${opts.baseUrl ?? apiUrl}${path}`, {
    method,
    headers,
    ...(opts.body !== undefined
      ? { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }
      : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (metrics, event streams): keep the text
  }
  return { status: res.status, headers: res.headers, body: body as T, text };
}

/** A unique marker for names and mock rules, so test files can share one stack. */
export const unique = (prefix = 't') => `${prefix}-${randomUUID().slice(0, 8)}`;

export interface TestOrg {
  orgId: string;
  key: string;
  keyId: string;
  ownerId: string;
}

export async function createOrg(body: Record<string, unknown> = {}): Promise<TestOrg> {
  const res = await call<{
    data: { org: { id: string }; owner: { id: string }; key: { id: string; key: string } };
  }>('POST', '/admin/v1/orgs', {
    headers: { authorization: `Bearer ${adminToken}` },
    body: { name: unique('org'), ...body },
  });
  if (res.status !== 201) throw new Error(`createOrg: ${res.status} ${res.text}`);
  const { org, owner, key } = res.body.data;
  return { orgId: org.id, key: key.key, keyId: key.id, ownerId: owner.id };
}

/** A prompt with one version labelled production; returns its name. */
export async function createPrompt(
  key: string,
  version: Record<string, unknown>,
  opts: { name?: string; labels?: string[] } = {},
): Promise<string> {
  const name = opts.name ?? unique('prompt');
  const p = await call('POST', '/v1/prompts', { key, body: { name } });
  if (p.status !== 201) throw new Error(`createPrompt: ${p.status} ${p.text}`);
  const v = await call('POST', `/v1/prompts/${encodeURIComponent(name)}/versions`, {
    key,
    body: { model: 'mock-1', labels: opts.labels ?? ['production'], ...version },
  });
  if (v.status !== 201) throw new Error(`createVersion: ${v.status} ${v.text}`);
  return name;
}
