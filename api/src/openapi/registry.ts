import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import {
  extendZodWithOpenApi,
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

/** Every route group documents its paths here at import time; /openapi.json is generated from it. */
export const openApiRegistry = new OpenAPIRegistry();

openApiRegistry.registerComponent('securitySchemes', 'bearerAuth', {
  type: 'http',
  scheme: 'bearer',
  description: 'An API key `pm_live_…` (also accepted as `x-api-key`), or an OAuth2 access token.',
});
openApiRegistry.registerComponent('securitySchemes', 'apiKeyHeader', {
  type: 'apiKey',
  in: 'header',
  name: 'x-api-key',
});
openApiRegistry.registerComponent('securitySchemes', 'adminToken', {
  type: 'http',
  scheme: 'bearer',
  description: 'The operator token (ADMIN_TOKEN).',
});

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'VALIDATION_ERROR' }),
      message: z.string(),
      details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('Error');

export const seedErrorBodySchema = z
  .object({ success: z.literal(false), error: z.string(), code: z.string() })
  .openapi('SeedError');

export const paginationMetaSchema = z
  .object({ page: z.number().int(), per_page: z.number().int(), total: z.number().int() })
  .openapi('PaginationMeta');

type Method = RouteConfig['method'];

export interface RouteDoc {
  method: Method;
  /** Express-style path under /v1 (also served under /api/v1), e.g. /v1/prompts/:idOrName */
  path: string;
  summary: string;
  tag: string;
  auth?: 'key' | 'admin' | 'none';
  scope?: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  params?: z.ZodObject;
  /** status → description and optional JSON schema */
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** error shape for 4xx/5xx: the API's, or the seed's flat one (sync run routes) */
  errorShape?: 'api' | 'seed';
}

const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, '{$1}');

export function documentRoute(doc: RouteDoc): void {
  const errorSchema = doc.errorShape === 'seed' ? seedErrorBodySchema : errorBodySchema;
  const responses: RouteConfig['responses'] = {};
  for (const [status, r] of Object.entries(doc.responses)) {
    responses[status] = r.schema
      ? {
          description: r.description,
          content: { [r.contentType ?? 'application/json']: { schema: r.schema } },
        }
      : { description: r.description };
  }
  const auth = doc.auth ?? 'key';
  if (auth !== 'none') {
    responses['401'] ??= {
      description: 'Unauthorized',
      content: { 'application/json': { schema: errorSchema } },
    };
  }
  responses.default ??= { description: 'Error', content: { 'application/json': { schema: errorSchema } } };
  const description = [
    doc.scope ? `Scope: \`${doc.scope}\`.` : '',
    doc.path.startsWith('/v1/') ? `Also served under \`/api${doc.path}\`.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  openApiRegistry.registerPath({
    method: doc.method,
    path: toOpenApiPath(doc.path),
    summary: doc.summary,
    ...(description ? { description } : {}),
    tags: [doc.tag],
    security:
      auth === 'key'
        ? [{ bearerAuth: [] }, { apiKeyHeader: [] }]
        : auth === 'admin'
          ? [{ adminToken: [] }]
          : [],
    request: {
      ...(doc.body ? { body: { content: { 'application/json': { schema: doc.body } } } } : {}),
      ...(doc.query ? { query: doc.query } : {}),
      ...(doc.params ? { params: doc.params } : {}),
    },
    responses,
  });
}

let cached: object | undefined;

export function openApiDocument(): object {
  cached ??= new OpenApiGeneratorV31(openApiRegistry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Promptmill API',
      version: '1.0.0',
      description:
        'Versioned prompts, keyed REST API, durable sync/async runs on Temporal. Every /v1 route is also served under /api/v1.',
    },
    servers: [{ url: '/' }],
  });
  return cached;
}

/** Folder of the swagger-ui-dist package (served at /docs, no CDN). */
export function swaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}
