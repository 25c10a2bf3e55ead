import type { Logger } from '@promptmill/infra/logger';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { ZodError } from 'zod';
import { AppError, type ErrorDetail } from './app-error.ts';

/** Routes whose errors keep the seed's flat shape: { success:false, error, code }. */
export function useSeedErrorShape(): RequestHandler {
  return (_req, res, next) => {
    res.locals.seedErrorShape = true;
    next();
  };
}

export function zodDetails(err: ZodError): ErrorDetail[] {
  return err.issues.map((i) => ({ field: i.path.map(String).join('.') || '(body)', message: i.message }));
}

interface BodyParserError {
  type: string;
  status?: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return typeof err === 'object' && err !== null && typeof (err as { type?: unknown }).type === 'string';
}

/** A gzip/deflate/br stream that does not decode: body-parser passes zlib's error on as a 400. */
function isBodyDecodeError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { status, errno } = err as { status?: unknown; errno?: unknown };
  return status === 400 && typeof errno === 'number';
}

/** The router could not percent-decode a path parameter (`/v1/prompts/%E0%A4%A`). */
function isPathDecodeError(err: unknown): boolean {
  return err instanceof URIError && (err as { status?: unknown }).status === 400;
}

/** Anything thrown → AppError; unknown errors become a 500 that leaks nothing. */
export function toAppError(err: unknown, maxBodyBytes: number): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) {
    return new AppError('VALIDATION_ERROR', 'Invalid request parameters', { details: zodDetails(err) });
  }
  if (isBodyParserError(err)) {
    if (err.type === 'entity.parse.failed')
      return new AppError('INVALID_JSON', 'Request body is not valid JSON');
    if (err.type === 'entity.too.large') {
      return new AppError('PAYLOAD_TOO_LARGE', `Request body exceeds ${maxBodyBytes} bytes`);
    }
    if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported request body encoding');
    }
  }
  if (isBodyDecodeError(err)) return new AppError('INVALID_JSON', 'Request body could not be decoded');
  if (isPathDecodeError(err)) {
    const message = 'must be valid percent-encoded UTF-8';
    return new AppError('VALIDATION_ERROR', `Invalid request path: ${message}`, {
      details: [{ field: 'path', message }],
    });
  }
  return new AppError('INTERNAL_ERROR', 'Internal server error');
}

export function sendError(res: Response, appErr: AppError): void {
  for (const [name, value] of Object.entries(appErr.headers)) res.setHeader(name, value);
  res.setHeader('Cache-Control', 'no-store');
  if (res.locals.seedErrorShape === true) {
    res
      .status(appErr.status)
      .json({ success: false, error: appErr.message, code: appErr.code, ...appErr.extra });
    return;
  }
  res.status(appErr.status).json({
    error: {
      code: appErr.code,
      message: appErr.message,
      ...(appErr.details ? { details: appErr.details } : {}),
    },
    ...appErr.extra,
  });
}

export function errorHandler(logger: Logger, maxBodyBytes: number): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next) => {
    const appErr = toAppError(err, maxBodyBytes);
    if (appErr.status >= 500 && !(err instanceof AppError)) {
      logger.error({ err, requestId: res.locals.requestId, route: req.path }, 'unhandled error');
    } else if (appErr.status >= 500 && appErr.cause !== undefined) {
      // the client got the code and a fixed message; the detail is for the operator
      logger.error(
        { err: appErr.cause, code: appErr.code, requestId: res.locals.requestId, route: req.path },
        appErr.message,
      );
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    sendError(res, appErr);
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}`));
};
