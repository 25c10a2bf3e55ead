import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { toAppError } from './error-handler.ts';

/** What body-parser hands on for a body that does not decode: zlib's error, made a 400 by http-errors. */
function zlibError(): Error {
  try {
    gunzipSync(Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  } catch (err) {
    return Object.assign(err as Error, { status: 400, statusCode: 400, expose: true });
  }
  throw new Error('gunzip accepted garbage');
}

describe('toAppError', () => {
  it('a body whose Content-Encoding does not decode → 400 INVALID_JSON', () => {
    const err = toAppError(zlibError(), 1024);
    expect([err.status, err.code, err.message]).toEqual([
      400,
      'INVALID_JSON',
      'Request body could not be decoded',
    ]);
  });

  it("a path the router cannot percent-decode → 400 VALIDATION_ERROR on field 'path'", () => {
    const uriError = Object.assign(new URIError("Failed to decode param '%E0%A4%A'"), { status: 400 });
    const err = toAppError(uriError, 1024);
    expect([err.status, err.code]).toEqual([400, 'VALIDATION_ERROR']);
    expect(err.details).toEqual([{ field: 'path', message: 'must be valid percent-encoded UTF-8' }]);
  });

  it('anything else unknown stays a 500 that leaks nothing', () => {
    for (const unknown of [new URIError('elsewhere'), Object.assign(new Error('x'), { errno: 1 }), 'boom']) {
      const err = toAppError(unknown, 1024);
      expect([err.status, err.code, err.message]).toEqual([500, 'INTERNAL_ERROR', 'Internal server error']);
    }
  });
});
