import type { RequestOptions, Transport } from '../http.ts';
import type {
  CreatePromptParams,
  CreateVersionParams,
  Page,
  PageQuery,
  Prompt,
  PromptLabel,
  PromptVersion,
  RenderedPrompt,
  RenderParams,
  Template,
  TemplateCategory,
  UpdatePromptParams,
  UseTemplateParams,
} from '../types.ts';
import { pageQuery } from './shared.ts';

/** Versions of one prompt: immutable, numbered from 1. */
export class Versions {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  async create(prompt: string, params: CreateVersionParams, opts?: RequestOptions): Promise<PromptVersion> {
    const r = await this.t.json<{ data: PromptVersion }>('versions.create', {
      ...opts,
      params: { idOrName: prompt },
      body: params,
    });
    return r.body.data;
  }

  async list(prompt: string, query: PageQuery = {}, opts?: RequestOptions): Promise<Page<PromptVersion>> {
    const r = await this.t.json<Page<PromptVersion>>('versions.list', {
      ...opts,
      params: { idOrName: prompt },
      query: pageQuery(query),
    });
    return r.body;
  }

  async get(prompt: string, version: number, opts?: RequestOptions): Promise<PromptVersion> {
    const r = await this.t.json<{ data: PromptVersion }>('versions.get', {
      ...opts,
      params: { idOrName: prompt, n: version },
    });
    return r.body.data;
  }
}

/** Labels (`production`, `staging`, any) point at versions and move atomically. */
export class Labels {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  async list(prompt: string, opts?: RequestOptions): Promise<PromptLabel[]> {
    const r = await this.t.json<{ data: PromptLabel[] }>('labels.list', {
      ...opts,
      params: { idOrName: prompt },
    });
    return r.body.data;
  }

  async set(prompt: string, label: string, version: number, opts?: RequestOptions): Promise<PromptLabel> {
    const r = await this.t.json<{ data: PromptLabel }>('labels.set', {
      ...opts,
      params: { idOrName: prompt, label },
      body: { version },
    });
    return r.body.data;
  }

  async delete(prompt: string, label: string, opts?: RequestOptions): Promise<void> {
    await this.t.send('labels.delete', { ...opts, params: { idOrName: prompt, label } });
  }
}

export class Prompts {
  readonly versions: Versions;
  readonly labels: Labels;

  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
    this.versions = new Versions(t);
    this.labels = new Labels(t);
  }

  async create(params: CreatePromptParams, opts?: RequestOptions): Promise<Prompt> {
    return (await this.t.json<{ data: Prompt }>('prompts.create', { ...opts, body: params })).body.data;
  }

  async list(
    query: PageQuery & { tag?: string | string[]; search?: string } = {},
    opts?: RequestOptions,
  ): Promise<Page<Prompt>> {
    const r = await this.t.json<Page<Prompt>>('prompts.list', {
      ...opts,
      query: { ...pageQuery(query), tag: query.tag, search: query.search },
    });
    return r.body;
  }

  /** Every prompt, page by page. */
  async *listAll(
    query: { tag?: string | string[]; search?: string } = {},
    opts?: RequestOptions,
  ): AsyncGenerator<Prompt> {
    for (let page = 1; ; page++) {
      const r = await this.list({ ...query, page, perPage: 100 }, opts);
      yield* r.data;
      if (r.data.length === 0 || page * r.meta.per_page >= r.meta.total) return;
    }
  }

  async get(idOrName: string, opts?: RequestOptions): Promise<Prompt> {
    return (await this.t.json<{ data: Prompt }>('prompts.get', { ...opts, params: { idOrName } })).body.data;
  }

  async update(idOrName: string, params: UpdatePromptParams, opts?: RequestOptions): Promise<Prompt> {
    const r = await this.t.json<{ data: Prompt }>('prompts.update', {
      ...opts,
      params: { idOrName },
      body: params,
    });
    return r.body.data;
  }

  async delete(idOrName: string, opts?: RequestOptions): Promise<void> {
    await this.t.send('prompts.delete', { ...opts, params: { idOrName } });
  }

  /** The resolved content for a version or label and these variables, without calling a model. */
  async render(idOrName: string, params: RenderParams = {}, opts?: RequestOptions): Promise<RenderedPrompt> {
    const r = await this.t.json<{ data: RenderedPrompt }>('prompts.render', {
      ...opts,
      params: { idOrName },
      body: params,
    });
    return r.body.data;
  }
}

/** The built-in template library. */
export class Templates {
  /** @internal */
  readonly t: Transport;
  constructor(t: Transport) {
    this.t = t;
  }

  async list(
    query: PageQuery & { category?: TemplateCategory } = {},
    opts?: RequestOptions,
  ): Promise<Page<Template>> {
    const r = await this.t.json<Page<Template>>('templates.list', {
      ...opts,
      query: { ...pageQuery(query), category: query.category },
    });
    return r.body;
  }

  async get(id: string, opts?: RequestOptions): Promise<Template> {
    return (await this.t.json<{ data: Template }>('templates.get', { ...opts, params: { id } })).body.data;
  }

  /** Creates a prompt from a template: version 1, labelled production. */
  async use(
    id: string,
    params: UseTemplateParams,
    opts?: RequestOptions,
  ): Promise<{ prompt: Prompt; version: PromptVersion }> {
    const r = await this.t.json<{ data: { prompt: Prompt; version: PromptVersion } }>('templates.use', {
      ...opts,
      params: { id },
      body: params,
    });
    return r.body.data;
  }
}
