import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

// The SSRF guard for webhook targets, at save time (api) and again at send time (worker): the host
// is resolved and every address it resolves to must be public unicast. Anything ipaddr.js puts in
// a special range is refused — loopback, private, link-local (169.254.169.254, the cloud metadata
// service), carrier-grade NAT (100.100.100.200, another metadata service), unique-local (fd00:ec2::254),
// multicast, unspecified, reserved, and the IPv6 forms that embed an IPv4 address (mapped, NAT64,
// 6to4, Teredo) — unless private targets are allowed (WEBHOOK_ALLOW_PRIVATE=true, local setups).

export interface UrlVerdict {
  ok: boolean;
  /** why the target is refused (for the API's details and the delivery log) */
  reason?: string;
  /** the addresses the host resolved to: the send connects to the first */
  addresses: string[];
}

export interface UrlGuardOptions {
  allowPrivate: boolean;
  /** resolution of a host name; node's resolver by default (tests pass their own) */
  resolve?: (host: string) => Promise<string[]>;
}

const defaultResolve = async (host: string) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** The special range an address is in, or undefined when it is public unicast. */
export function specialRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  const parsed = ipaddr.process(address); // an IPv4-mapped IPv6 address is checked as its IPv4
  const range = parsed.range();
  return range === 'unicast' ? undefined : range;
}

/** Checks a webhook URL's scheme and where its host resolves to. Never throws. */
export async function checkWebhookUrl(raw: string, opts: UrlGuardOptions): Promise<UrlVerdict> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'must be an absolute URL', addresses: [] };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, reason: 'must be an https URL', addresses: [] };
  if (url.username || url.password) return { ok: false, reason: 'must not carry credentials', addresses: [] };
  // every address is allowed: nothing to resolve (a host that does not resolve yet fails at send time)
  if (opts.allowPrivate) return { ok: true, addresses: [] };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await (opts.resolve ?? defaultResolve)(host);
  } catch {
    return { ok: false, reason: `host '${host}' does not resolve`, addresses: [] };
  }
  if (addresses.length === 0) return { ok: false, reason: `host '${host}' does not resolve`, addresses };
  if (url.protocol !== 'https:') return { ok: false, reason: 'must be an https URL', addresses };
  for (const address of addresses) {
    const range = specialRange(address);
    if (range)
      return {
        ok: false,
        reason: `resolves to ${address} (${range}), which webhooks may not reach`,
        addresses,
      };
  }
  return { ok: true, addresses };
}
