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

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'VALIDATION_ERROR' }),
      message: z.string(),
      details: z
        .array(
          z.object({
            field: z.string(),
            message: z.string(),
            reason: z
              .string()
              .optional()
              .openapi({ description: 'The limit exceeded (TEMPLATE_BUDGET_EXCEEDED, PROMPT_TOO_LARGE)' }),
            limit: z.number().optional().openapi({ description: 'The value of that limit' }),
            tag: z.string().optional().openapi({ description: 'The template tag being rendered' }),
          }),
        )
        .optional(),
    }),
  })
  .openapi('Error');

export const seedErrorBodySchema = z
  .object({ success: z.literal(false), error: z.string(), code: z.string() })
  .openapi('SeedError');

export const paginationMetaSchema = z
  .object({ page: z.number().int(), per_page: z.number().int(), total: z.number().int() })
  .openapi('PaginationMeta');

/** `{ data: T }` */
export const one = <T extends z.ZodType>(schema: T) => z.object({ data: schema });
/** `{ data: T[], meta }` */
export const many = <T extends z.ZodType>(schema: T) =>
  z.object({ data: z.array(schema), meta: paginationMetaSchema });

/** The methods routes are declared with (a subset of OpenAPI's). */
export type HttpMethod = Extract<RouteConfig['method'], 'get' | 'post' | 'put' | 'patch' | 'delete'>;

/** What the OpenAPI document says about one operation (the route declaration holds it). */
export interface OperationDoc {
  method: HttpMethod;
  /** Express-style path, e.g. /v1/prompts/:idOrName */
  path: string;
  summary: string;
  tag: string;
  auth: 'key' | 'admin' | 'none';
  scope?: string | undefined;
  body?: z.ZodType | undefined;
  query?: z.ZodType | undefined;
  params?: z.ZodType | undefined;
  /** status → description and optional schema */
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** error shape for 4xx/5xx: the API's, or the seed's flat one (sync run routes) */
  errorShape: 'api' | 'seed';
}

export const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, '{$1}');

function newRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key `pm_live_…` (also accepted as `x-api-key`), or an OAuth2 access token.',
  });
  registry.registerComponent('securitySchemes', 'apiKeyHeader', {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
  });
  registry.registerComponent('securitySchemes', 'adminToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'The operator token (ADMIN_TOKEN).',
  });
  return registry;
}

function register(registry: OpenAPIRegistry, doc: OperationDoc): void {
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
  if (doc.auth !== 'none') {
    responses['401'] ??= {
      description: 'Unauthorized',
      content: { 'application/json': { schema: errorSchema } },
    };
  }
  if (doc.auth === 'key') {
    responses['429'] ??= {
      description:
        'RATE_LIMITED, with Retry-After, `retryAfter` and `rateLimits`: a key or organization window, the per-process breaker, or too many failed authentications from this client address (AUTH_FAILURE_LIMIT_PER_MINUTE)',
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
  registry.registerPath({
    method: doc.method,
    path: toOpenApiPath(doc.path),
    summary: doc.summary,
    ...(description ? { description } : {}),
    tags: [doc.tag],
    security:
      doc.auth === 'key'
        ? [{ bearerAuth: [] }, { apiKeyHeader: [] }]
        : doc.auth === 'admin'
          ? [{ adminToken: [] }]
          : [],
    request: {
      ...(doc.body ? { body: { content: { 'application/json': { schema: doc.body } } } } : {}),
      ...(doc.query instanceof z.ZodObject ? { query: doc.query } : {}),
      ...(doc.params instanceof z.ZodObject ? { params: doc.params } : {}),
    },
    responses,
  });
}

/** The OpenAPI 3.1 document of these operations. */
export function openApiDocument(operations: readonly OperationDoc[]): object {
  const registry = newRegistry();
  for (const op of operations) register(registry, op);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Promptmill API',
      version: '1.0.0',
      description:
        'Versioned prompts, keyed REST API, durable sync/async runs on Temporal. Every /v1 route is also served under /api/v1.',
    },
    servers: [{ url: '/' }],
  });
}

/** Folder of the swagger-ui-dist package (served at /docs, no CDN). */
export function swaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}
