import { randomBytes } from 'node:crypto';
import { ID_PREFIX, type IdKind } from '@promptmill/workflows';

/** `<prefix><22 url-safe chars>` from 16 random bytes, e.g. run_x3K9dQ... */
export function newId(kind: IdKind): string {
  return ID_PREFIX[kind] + randomBytes(16).toString('base64url');
}
