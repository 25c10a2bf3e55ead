import type { RequestOptions, Transport } from '../http.ts';
import type {
  AddMemberParams,
  ApiKey,
  CreatedApiKey,
  CreateKeyParams,
  KeyAnalytics,
  Member,
  Page,
  PageQuery,
  UpdateKeyParams,
} from '../types.ts';
import { isoTime, pageQuery } from './shared.ts';

export class Keys {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  /** The secret is in `key`, once. */
  async create(params: CreateKeyParams, opts?: RequestOptions): Promise<CreatedApiKey> {
    return (await this.t.json<{ data: CreatedApiKey }>('keys.create', { ...opts, body: params })).body.data;
  }

  async list(query: PageQuery = {}, opts?: RequestOptions): Promise<Page<ApiKey>> {
    return (await this.t.json<Page<ApiKey>>('keys.list', { ...opts, query: pageQuery(query) })).body;
  }

  async get(id: string, opts?: RequestOptions): Promise<ApiKey> {
    return (await this.t.json<{ data: ApiKey }>('keys.get', { ...opts, params: { id } })).body.data;
  }

  async update(id: string, params: UpdateKeyParams, opts?: RequestOptions): Promise<ApiKey> {
    return (await this.t.json<{ data: ApiKey }>('keys.update', { ...opts, params: { id }, body: params }))
      .body.data;
  }

  async revoke(id: string, opts?: RequestOptions): Promise<ApiKey> {
    return (await this.t.json<{ data: ApiKey }>('keys.revoke', { ...opts, params: { id } })).body.data;
  }

  /** A new secret for the same key id; the old one keeps working for `gracePeriodSeconds` (default 86,400). */
  async rotate(
    id: string,
    params: { gracePeriodSeconds?: number } = {},
    opts?: RequestOptions,
  ): Promise<CreatedApiKey> {
    const r = await this.t.json<{ data: CreatedApiKey }>('keys.rotate', {
      ...opts,
      params: { id },
      body: params,
    });
    return r.body.data;
  }

  /** Requests over time, success and error rate, latency, tokens, cost of one key. */
  async analytics(
    id: string,
    query: { from?: string | Date; to?: string | Date; granularity?: 'hour' | 'day' } = {},
    opts?: RequestOptions,
  ): Promise<KeyAnalytics> {
    const r = await this.t.json<{ data: KeyAnalytics }>('keys.analytics', {
      ...opts,
      params: { id },
      query: { from: isoTime(query.from), to: isoTime(query.to), granularity: query.granularity },
    });
    return r.body.data;
  }
}

export class Members {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  async list(query: PageQuery = {}, opts?: RequestOptions): Promise<Page<Member>> {
    return (await this.t.json<Page<Member>>('members.list', { ...opts, query: pageQuery(query) })).body;
  }

  async get(id: string, opts?: RequestOptions): Promise<Member> {
    return (await this.t.json<{ data: Member }>('members.get', { ...opts, params: { id } })).body.data;
  }

  async add(params: AddMemberParams, opts?: RequestOptions): Promise<Member> {
    return (await this.t.json<{ data: Member }>('members.add', { ...opts, body: params })).body.data;
  }

  /** Removes a member and revokes its keys. */
  async remove(id: string, opts?: RequestOptions): Promise<Member> {
    return (await this.t.json<{ data: Member }>('members.remove', { ...opts, params: { id } })).body.data;
  }

  async suspend(id: string, opts?: RequestOptions): Promise<Member> {
    return (await this.t.json<{ data: Member }>('members.suspend', { ...opts, params: { id } })).body.data;
  }

  async unsuspend(id: string, opts?: RequestOptions): Promise<Member> {
    return (await this.t.json<{ data: Member }>('members.unsuspend', { ...opts, params: { id } })).body.data;
  }
}
