import { describe, expect, it } from 'vitest';
import { isBareOrigin, isOriginAllowed, normalizeOrigin } from './origin.ts';

describe('origins', () => {
  it('normalizes scheme://host[:port]', () => {
    expect(normalizeOrigin('HTTPS://App.Example.com:443')).toBe('https://app.example.com');
    expect(normalizeOrigin('http://localhost:5173/')).toBe('http://localhost:5173');
    expect(normalizeOrigin('null')).toBeUndefined();
    expect(normalizeOrigin('file:///etc/passwd')).toBeUndefined();
    expect(normalizeOrigin('chrome-extension://abc')).toBeUndefined();
  });

  it('allowed-origin entries must be bare origins', () => {
    expect(isBareOrigin('https://app.example.com')).toBe(true);
    expect(isBareOrigin('https://app.example.com/')).toBe(true);
    expect(isBareOrigin('https://app.example.com/path')).toBe(false);
    expect(isBareOrigin('https://app.example.com?x=1')).toBe(false);
    expect(isBareOrigin('https://user@app.example.com')).toBe(false);
    expect(isBareOrigin('app.example.com')).toBe(false);
  });

  it('no Origin or no list: allowed; otherwise exact match after normalization', () => {
    const list = ['https://app.example.com'];
    expect(isOriginAllowed(undefined, list)).toBe(true);
    expect(isOriginAllowed('https://evil.example', null)).toBe(true);
    expect(isOriginAllowed('https://evil.example', [])).toBe(true);
    expect(isOriginAllowed('https://APP.example.com', list)).toBe(true);
    expect(isOriginAllowed('http://app.example.com', list)).toBe(false);
    expect(isOriginAllowed('https://app.example.com.evil.example', list)).toBe(false);
    expect(isOriginAllowed('null', list)).toBe(false);
  });
});
