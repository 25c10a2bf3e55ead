import { type RequestHandler, Router } from 'express';
import { AppError } from './app-error.ts';
import type { RouteDef } from './define-route.ts';

/**
 * After every route: a path some route serves, asked with a method none serves → 405 METHOD_NOT_ALLOWED
 * with `Allow` (RFC 9110 §15.5.6); a path no route serves falls through to the 404. Every path pattern the
 * request matches adds its methods, so overlapping patterns give the whole list.
 */
export function methodNotAllowed(routes: readonly RouteDef[]): RequestHandler[] {
  const methodsByPath = new Map<string, Set<string>>();
  for (const route of routes) {
    if (route.undocumented) continue; // a fixed refusal (rejectMethods) is not a method the path allows
    const method = route.doc.method.toUpperCase();
    for (const path of route.paths) {
      const methods = methodsByPath.get(path) ?? new Set<string>();
      methods.add(method);
      if (method === 'GET') methods.add('HEAD');
      methodsByPath.set(path, methods);
    }
  }
  const collect = Router();
  for (const [path, methods] of methodsByPath) {
    collect.all(path, (_req, res, next) => {
      const allowed: Set<string> = res.locals.allowedMethods ?? new Set<string>();
      for (const m of methods) allowed.add(m);
      res.locals.allowedMethods = allowed;
      next();
    });
  }
  const refuse: RequestHandler = (req, res, next) => {
    const allowed: Set<string> | undefined = res.locals.allowedMethods;
    // no path served, or a route of this very method passed the request on: that is a 404, not a 405
    if (!allowed || allowed.size === 0 || allowed.has(req.method)) return next();
    const allow = [...allowed].join(', ');
    next(
      new AppError(
        'METHOD_NOT_ALLOWED',
        `Method ${req.method} is not allowed on ${req.path}; allowed: ${allow}`,
        {
          headers: { Allow: allow },
        },
      ),
    );
  };
  return [collect, refuse];
}
