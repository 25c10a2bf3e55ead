import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, specialRange } from './url-guard.ts';

const strict = { allowPrivate: false };

describe('webhook URL guard', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.100.100.200',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
  ])('refuses %s', (address) => {
    expect(specialRange(address)).toBeDefined();
  });

  it.each(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', '::ffff:93.184.215.14'])(
    'accepts public %s',
    (address) => {
      expect(specialRange(address)).toBeUndefined();
    },
  );

  it('refuses a name that resolves to loopback, and any name with one private address among public ones', async () => {
    const local = await checkWebhookUrl('https://localhost:8443/hook', strict);
    expect(local.ok).toBe(false);
    expect(local.reason).toMatch(/loopback/);
    const mixed = await checkWebhookUrl('https://hooks.example.test/x', {
      ...strict,
      resolve: async () => ['93.184.215.14', '10.0.0.5'],
    });
    expect(mixed).toMatchObject({ ok: false });
    expect(mixed.reason).toMatch(/10\.0\.0\.5 \(private\)/);
  });

  it('refuses bracketed IPv6 literals, plain http and credentials; allows private targets only when told', async () => {
    expect((await checkWebhookUrl('https://[::ffff:7f00:1]/x', strict)).ok).toBe(false);
    expect((await checkWebhookUrl('http://93.184.215.14/x', strict)).reason).toMatch(/https/);
    expect((await checkWebhookUrl('https://u:p@93.184.215.14/x', strict)).ok).toBe(false);
    expect((await checkWebhookUrl('https://93.184.215.14/x', strict)).ok).toBe(true);
    expect((await checkWebhookUrl('http://127.0.0.1:9/x', { allowPrivate: true })).ok).toBe(true);
    const unresolved = await checkWebhookUrl('https://no-such-host.invalid/x', {
      ...strict,
      resolve: async () => {
        throw new Error('ENOTFOUND');
      },
    });
    expect(unresolved.reason).toMatch(/does not resolve/);
  });
});
