import type { ErrorDetail } from './app-error.ts';

// What every request value must be before a schema, a template or the database sees it. Both walks are
// iterative (an explicit stack), so no input can make them overflow the call stack.

/**
 * Deepest nesting of objects and arrays a JSON body may have (the body itself is level 1). Deeper
 * bodies are refused before anything recursive (zod, JSON.stringify, jsonb encoding) runs over them.
 */
export const MAX_JSON_DEPTH = 64;

/** More offending strings than this in one request are not all listed. */
const MAX_DETAILS = 20;

/** The path of the first object or array nested deeper than `maxDepth`, or undefined. */
export function findTooDeep(value: unknown, maxDepth = MAX_JSON_DEPTH): (string | number)[] | undefined {
  const stack: { value: unknown; depth: number; path: (string | number)[] }[] = [
    { value, depth: 1, path: [] },
  ];
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (item.value === null || typeof item.value !== 'object') continue;
    if (item.depth > maxDepth) return item.path;
    const entries = Array.isArray(item.value) ? item.value.entries() : Object.entries(item.value);
    for (const [key, child] of entries) {
      if (child !== null && typeof child === 'object') {
        stack.push({ value: child, depth: item.depth + 1, path: [...item.path, key] });
      }
    }
  }
  return undefined;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why Postgres cannot store this string as text or jsonb, or undefined: text cannot hold U+0000, and a
 * lone UTF-16 surrogate has no UTF-8 encoding (the driver would store U+FFFD, jsonb refuses `\ud800`).
 */
export function unstorableReason(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL characters (U+0000)';
  if (LONE_SURROGATE.test(s)) return 'must not contain unpaired UTF-16 surrogates (invalid Unicode)';
  return undefined;
}

/** A key as it can be shown in a field path: NUL and lone surrogates spelled out as `\uXXXX`. */
function printableKey(key: string): string {
  return key
    .replaceAll('\u0000', '\\u0000')
    .replace(new RegExp(LONE_SURROGATE, 'g'), (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Every string (object keys included) that Postgres could not store, as validation details whose
 * `field` is the path to it in zod's notation (`variables.name`, `metadata.a.0`; `(body)` for the root).
 */
export function unstorableStrings(value: unknown): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const field = (path: string[]) => path.join('.') || '(body)';
  const stack: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  for (let item = stack.pop(); item && details.length < MAX_DETAILS; item = stack.pop()) {
    if (typeof item.value === 'string') {
      const reason = unstorableReason(item.value);
      if (reason) details.push({ field: field(item.path), message: reason });
      continue;
    }
    if (item.value === null || typeof item.value !== 'object') continue;
    const children: { value: unknown; path: string[] }[] = [];
    if (Array.isArray(item.value)) {
      item.value.forEach((child, i) => {
        children.push({ value: child, path: [...item.path, String(i)] });
      });
    } else {
      for (const [key, child] of Object.entries(item.value)) {
        const path = [...item.path, printableKey(key)];
        const reason = unstorableReason(key);
        if (reason) details.push({ field: field(path), message: `Object keys ${reason}` });
        children.push({ value: child, path });
      }
    }
    // reversed onto the stack, so details come out in document order
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return details.slice(0, MAX_DETAILS);
}
