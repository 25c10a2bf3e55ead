import type { Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import type { AuthContext } from '../auth/auth-context.ts';
import { getAuth } from '../auth/auth-context.ts';
import { requireScope, type Scope } from '../auth/scopes.ts';
import { AppError, type ErrorDetail } from './app-error.ts';
import { zodDetails } from './error-handler.ts';
import type { HttpMethod, OperationDoc } from './openapi.ts';
import { unstorableStrings } from './safe-input.ts';

type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteContext<P, Q, B> {
  req: Request;
  res: Response;
  params: Infer<P>;
  query: Infer<Q>;
  body: Infer<B>;
  /** the caller (routes with `auth: 'key'`); throws 401 elsewhere */
  readonly auth: AuthContext;
}

export interface RouteSpec<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
> {
  method: HttpMethod;
  /** the documented path; `/v1/…` routes are also served under `/api/v1/…` and the reverse */
  path: string;
  summary: string;
  tag: string;
  /** default `key`: the app authenticates every /v1 request before its route */
  auth?: 'key' | 'admin' | 'none';
  /** 403 FORBIDDEN unless the calling key has it (or `admin`) */
  scope?: Scope;
  params?: P;
  query?: Q;
  body?: B;
  responses: OperationDoc['responses'];
  /** the seed's flat error shape (sync run routes); validation messages then name the fields */
  errorShape?: 'api' | 'seed';
  /** the error for input that does not parse, when not the API's VALIDATION_ERROR (e.g. OAuth2's own) */
  invalid?: (details: ErrorDetail[]) => Error;
  /** route-level middleware that runs before parsing (e.g. a form body parser) */
  before?: RequestHandler[];
  handler: (ctx: RouteContext<P, Q, B>) => Promise<void> | void;
}

/** One route: the Express handler and the OpenAPI operation come from this one declaration. */
export interface RouteDef {
  doc: OperationDoc;
  /** why this route is served but not an operation of the OpenAPI document (see `rejectMethods`) */
  undocumented?: string;
  /** every path Express serves it under */
  paths: string[];
  handlers: RequestHandler[];
}

/** `/v1/x` is also served as `/api/v1/x` (seed clients), and `/api/v1/x` as `/v1/x`. */
export function servedPaths(path: string): string[] {
  if (path.startsWith('/v1/')) return [path, `/api${path}`];
  if (path.startsWith('/api/v1/')) return [path, path.slice('/api'.length)];
  return [path];
}

type InvalidInput = (details: ErrorDetail[]) => Error;

function invalidInput(details: ErrorDetail[], seedShape: boolean, invalid?: InvalidInput): Error {
  if (invalid) return invalid(details);
  // the seed's error body has no `details`: its message names the fields itself
  const message = seedShape
    ? `Invalid request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`
    : 'Invalid request parameters';
  return new AppError('VALIDATION_ERROR', message, { details });
}

/**
 * Parses one part of the request (path params, query or body). Strings the database could not store
 * (NUL, lone surrogates; object keys included) are refused first, wherever they are, so no schema has to
 * remember them.
 */
function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  seedShape: boolean,
  invalid?: InvalidInput,
): z.output<S> {
  const unstorable = unstorableStrings(value);
  if (unstorable.length > 0) throw invalidInput(unstorable, seedShape, invalid);
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw invalidInput(zodDetails(parsed.error), seedShape, invalid);
}

export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): RouteDef {
  const auth = spec.auth ?? 'key';
  if (spec.scope && auth !== 'key') throw new Error(`${spec.path}: a scope needs key authentication`);
  const seedShape = spec.errorShape === 'seed';
  const run: RequestHandler = async (req, res) => {
    const { invalid } = spec;
    const params = (
      spec.params ? parseWith(spec.params, req.params, seedShape, invalid) : undefined
    ) as Infer<P>;
    const query = (spec.query ? parseWith(spec.query, req.query, seedShape, invalid) : undefined) as Infer<Q>;
    const body = (
      spec.body ? parseWith(spec.body, req.body ?? {}, seedShape, invalid) : undefined
    ) as Infer<B>;
    await spec.handler({
      req,
      res,
      params,
      query,
      body,
      get auth() {
        return getAuth(res);
      },
    });
  };
  return {
    doc: {
      method: spec.method,
      path: spec.path,
      summary: spec.summary,
      tag: spec.tag,
      auth,
      scope: spec.scope,
      body: spec.body,
      query: spec.query,
      params: spec.params,
      responses: spec.responses,
      errorShape: spec.errorShape ?? 'api',
    },
    paths: servedPaths(spec.path),
    handlers: [...(spec.scope ? [requireScope(spec.scope)] : []), ...(spec.before ?? []), run],
  };
}

/** Registers each route's handlers under every path it is served at. */
export function mountRoutes(router: Router, routes: readonly RouteDef[]): Router {
  for (const route of routes) {
    for (const path of route.paths) router[route.doc.method](path, routeLabel(path), ...route.handlers);
  }
  return router;
}

/**
 * The metrics' `route` label of the request: the template it was served under (`/v1/prompts/:idOrName`),
 * set when its route matches; requests no route took (unknown paths, refused before their route) stay
 * `unmatched`. Never the raw path, nor Express's mount path (req.baseUrl changes with error handlers
 * mounted under a prefix).
 */
function routeLabel(path: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.routeTemplate = path;
    next();
  };
}

/**
 * Methods a path refuses with a fixed error (e.g. 405 on an immutable resource): served, so the
 * client gets a clear answer instead of "no route", but not operations of their own in the
 * OpenAPI document; the path's documented operation describes the refusal.
 */
export function rejectMethods(
  path: string,
  methods: readonly HttpMethod[],
  refuse: (req: Request) => AppError,
  reason: string,
): RouteDef[] {
  return methods.map((method) => ({
    ...defineRoute({
      method,
      path,
      summary: reason,
      tag: 'Rejected',
      responses: {},
      handler: ({ req }) => {
        throw refuse(req);
      },
    }),
    undocumented: reason,
  }));
}
