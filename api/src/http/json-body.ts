import express, { type RequestHandler } from 'express';
import { AppError } from './app-error.ts';
import { hasBody } from './content-type.ts';
import { findTooDeep, MAX_JSON_DEPTH } from './safe-input.ts';

/**
 * Content-Encodings a request body may have. body-parser inflates them and counts MAX_BODY_BYTES on the
 * decoded bytes (a zip bomb is a 413); a stream that does not decode is a 400 INVALID_JSON (error-handler).
 * zstd is left out: Node's zstd decoder is still experimental.
 */
export const ACCEPTED_CONTENT_ENCODINGS = ['identity', 'gzip', 'deflate', 'br'] as const;

function refuseUnknownEncodings(): RequestHandler {
  const accepted = new Set<string>(ACCEPTED_CONTENT_ENCODINGS);
  return (req, _res, next) => {
    const encoding = req.get('content-encoding')?.trim().toLowerCase();
    if (encoding === undefined || encoding === '' || accepted.has(encoding) || !hasBody(req)) return next();
    next(
      new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Unsupported Content-Encoding '${encoding.slice(0, 50)}': use gzip, deflate, br or none`,
      ),
    );
  };
}

/** Bodies nested deeper than MAX_JSON_DEPTH are refused before anything recursive walks them. */
function refuseDeepBodies(): RequestHandler {
  return (req, _res, next) => {
    const path = findTooDeep(req.body, MAX_JSON_DEPTH);
    if (!path) return next();
    next(
      new AppError('INVALID_JSON', `Request body is nested deeper than ${MAX_JSON_DEPTH} levels`, {
        details: [
          {
            field: path.join('.') || '(body)',
            message: `nested deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`,
          },
        ],
      }),
    );
  };
}

/** The JSON body parser: known encodings only, at most `maxBodyBytes` once decoded, bounded nesting. */
export function jsonBody(maxBodyBytes: number): RequestHandler[] {
  return [
    refuseUnknownEncodings(),
    // the same types requireJsonBody lets through: a +json body is parsed, not silently dropped
    express.json({ limit: maxBodyBytes, strict: false, type: ['application/json', 'application/*+json'] }),
    refuseDeepBodies(),
  ];
}
