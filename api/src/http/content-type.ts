import type { RequestHandler } from 'express';
import { AppError } from './app-error.ts';

/** Whether the request carries a body (a length above 0 or a chunked one). */
export function hasBody(req: Parameters<RequestHandler>[0]): boolean {
  const length = req.get('content-length');
  return (length !== undefined && length !== '0') || req.get('transfer-encoding') !== undefined;
}

/** A body that is not JSON → 415 (forms are allowed only where a route says so, e.g. OAuth2). */
export function requireJsonBody(allowForm: (path: string) => boolean): RequestHandler {
  return (req, _res, next) => {
    if (!hasBody(req) || req.is('application/json') || req.is('application/*+json')) return next();
    if (allowForm(req.path) && req.is('application/x-www-form-urlencoded')) return next();
    next(new AppError('UNSUPPORTED_MEDIA_TYPE', 'Request body must be application/json'));
  };
}
