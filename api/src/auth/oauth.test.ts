import { describe, expect, it } from 'vitest';
import { clientCredentials, OAuthError } from './oauth.ts';

const basic = (v: string) => `Basic ${Buffer.from(v).toString('base64')}`;

describe('OAuth2 client authentication', () => {
  it('from the body or from HTTP Basic (form-encoded parts decoded)', () => {
    expect(clientCredentials(undefined, { client_id: 'key_1', client_secret: 's' })).toEqual({
      clientId: 'key_1',
      clientSecret: 's',
      basic: false,
    });
    expect(clientCredentials(basic('key_1:pm%5Flive'), {})).toEqual({
      clientId: 'key_1',
      clientSecret: 'pm_live',
      basic: true,
    });
  });

  it('both methods → invalid_request; none or malformed → invalid_client', () => {
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof OAuthError ? [e.error, e.status, e.basic] : e;
      }
      return undefined;
    };
    expect(err(() => clientCredentials(basic('a:b'), { client_id: 'a' }))).toEqual([
      'invalid_request',
      400,
      false,
    ]);
    expect(err(() => clientCredentials(undefined, { client_id: 'a' }))).toEqual([
      'invalid_client',
      401,
      false,
    ]);
    expect(err(() => clientCredentials(basic('no-colon'), {}))).toEqual(['invalid_client', 401, true]);
  });
});
