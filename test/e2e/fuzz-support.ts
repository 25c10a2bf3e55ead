// fast-check arbitraries for the input fuzz test: requests shaped by a route's own zod schemas (so some
// get past validation and reach the use-cases and the database) and filled with hostile values.
import fc from 'fast-check';
import { z } from 'zod';
import type { RouteDef } from '../../api/src/http/define-route.ts';

/** One character: mostly plain, sometimes any code point, sometimes one that once broke something. */
const char = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...'abcxyz_-.09 AZ') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '%', '{{', '}}', '\\', '"'),
  },
);
const hostileText = fc.string({ unit: char, maxLength: 30 });
const plainText = fc.string({ unit: fc.constantFrom(...'abcdefxyz_-09'), minLength: 1, maxLength: 12 });
/** Text: plain words most of the time (to get past validation), hostile strings often. */
export const text = fc.oneof({ weight: 3, arbitrary: plainText }, { weight: 2, arbitrary: hostileText });

const number = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      0,
      -0,
      0.5,
      2 ** 31 - 1,
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 53,
      1e11,
      1e308,
      -1e308,
    ),
  },
);

const dateText = fc.oneof(
  fc
    .date({
      min: new Date('1970-01-01T00:00:00Z'),
      max: new Date('2100-01-01T00:00:00Z'),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString()),
  fc.constantFrom(
    '0000-01-01T00:00:00Z',
    '1969-12-31T23:59:59Z',
    '9999-12-31T23:59:59Z',
    '9999-12-31T23:59:59-23:59',
    '2024-02-30T00:00:00Z',
    '2030-01-01',
    '0000-01-01',
  ),
);

/** Objects and arrays `depth` levels deep (built iteratively: JSON.stringify handles a few hundred). */
const deep = fc
  .record({ depth: fc.integer({ min: 2, max: 400 }), asArray: fc.boolean() })
  .map(({ depth, asArray }) => {
    let value: unknown = 'bottom';
    for (let i = 0; i < depth; i++) value = asArray ? [value] : { a: value };
    return value;
  });

const KEYS = ['name', 'role', 'content', 'maxTokens', 'temperature', 'required', 'default', 'a'];

/** Any JSON value: strings, numbers, booleans, null, small objects and arrays, now and then a deep one. */
export const anyJson: fc.Arbitrary<unknown> = (() => {
  const leaf = fc.oneof(text, number, fc.boolean(), fc.constant(null));
  const key = fc.oneof(fc.constantFrom(...KEYS), text);
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(key, tie('value'), { maxKeys: 4 }),
    ),
  }));
  return fc.oneof({ weight: 12, arbitrary: value }, { weight: 1, arbitrary: deep });
})();

/** What a request names that exists (the seeded prompt), so generated inputs reach past lookups too. */
export interface Known {
  promptId: string;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string>;
  values?: unknown[];
  format?: string;
}

/**
 * Values that mostly fit `schema` (its types, enums, literals, object keys) with hostile content (any
 * string, out-of-range numbers) and, one time in four, anything at all.
 */
export function valueFor(
  schema: z.ZodType | undefined,
  known: Known,
  key = '',
  depth = 0,
): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return anyJson;
  const shaped = shapedValue(schema, known, key, depth);
  return fc.oneof({ weight: depth === 0 ? 4 : 8, arbitrary: shaped }, { weight: 1, arbitrary: anyJson });
}

function shapedValue(schema: z.ZodType, known: Known, key: string, depth: number): fc.Arbitrary<unknown> {
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const inner = (s: z.ZodType | undefined, k = key) => valueFor(s, known, k, depth + 1);
  switch (def.type) {
    case 'string': {
      if (/^(prompt|promptName|promptId|idOrName)$/.test(key))
        return fc.oneof(fc.constant(known.promptId), text);
      if (key === 'model') return fc.oneof(fc.constant('mock-1'), text);
      if (key === 'label') return fc.oneof(fc.constant('production'), text);
      const format = (schema as unknown as { format?: string }).format ?? def.format;
      if (format === 'email')
        return fc.oneof(
          fc.nat().map((n) => `fuzz-${n}@example.com`),
          text,
        );
      if (format === 'url')
        return fc.constantFrom(
          'https://example.com/hook',
          'https://example.com/hook',
          'http://127.0.0.1/x',
          'ftp://x',
        );
      if (format === 'datetime' || format === 'date') return dateText;
      return text;
    }
    case 'number':
      return number;
    case 'boolean':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries ?? {}));
    case 'literal':
      return fc.constantFrom(...(def.values ?? [null]));
    case 'array':
      return fc.array(inner(def.element), { maxLength: 3 });
    case 'object': {
      const shape = Object.entries(def.shape ?? {});
      // the keys the schema requires are always there (their absence is the least interesting input)
      const requiredKeys = shape.filter(([, s]) => !s.safeParse(undefined).success).map(([k]) => k);
      return fc.record(Object.fromEntries(shape.map(([k, s]) => [k, inner(s, k)])), { requiredKeys });
    }
    case 'record':
      return fc.dictionary(text, inner(def.valueType), { maxKeys: 3 });
    case 'union':
      return fc.oneof(...(def.options ?? []).map((o) => inner(o)));
    case 'nullable':
      return fc.oneof(inner(def.innerType), fc.constant(null));
    case 'optional':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return shapedValue(def.innerType!, known, key, depth);
    case 'pipe':
      return shapedValue(def.in!, known, key, depth);
    default:
      return anyJson;
  }
}

/** Keys of an object schema, through defaults, optionals and pipes. */
export function shapeKeys(schema: z.ZodType | undefined): string[] {
  let current: unknown = schema;
  for (let i = 0; i < 10 && current; i++) {
    if (current instanceof z.ZodObject) return Object.keys(current.shape);
    const def = (current as { def?: { innerType?: unknown; in?: unknown } }).def;
    current = def?.innerType ?? def?.in;
  }
  return [];
}

/** UTF-8 percent-encoding of every byte (a lone surrogate becomes U+FFFD on the way, as in any client). */
export const percentEncode = (s: string) =>
  [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** A URL piece: a fitting value, encoded text, or raw percent-encoding that does not decode. */
function urlPiece(fitting: fc.Arbitrary<unknown>) {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fitting.map((v) => percentEncode(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))),
    },
    { weight: 2, arbitrary: text.map(percentEncode) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '%ED%A0%80', '%00', '%C0%80', '%FF') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '2147483648',
        '1e11',
        '-0',
        'NaN',
        '0x10',
        '1.5',
        '-1',
        '99999999999999999999',
      ),
    },
  );
}

export interface FuzzRequest {
  method: string;
  url: string;
  /** how the body travels: as is, gzip, a gzip stream cut short, or labelled zstd */
  encoding: 'identity' | 'gzip' | 'gzip-corrupt' | 'zstd';
  body: string | undefined;
}

function fieldSchema(schema: z.ZodType | undefined, name: string): z.ZodType | undefined {
  let current: unknown = schema;
  for (let i = 0; i < 10 && current; i++) {
    if (current instanceof z.ZodObject) return current.shape[name] as z.ZodType | undefined;
    const def = (current as { def?: { innerType?: unknown; in?: unknown } }).def;
    current = def?.innerType ?? def?.in;
  }
  return undefined;
}

/** Requests to one route: its path with each `:param` filled, a query and a body from its schemas. */
export function requestsFor(route: RouteDef, known: Known): fc.Arbitrary<FuzzRequest> {
  const { doc } = route;
  // a DELETE must not remove the prompt the other routes reach
  const ids = doc.method === 'delete' ? { promptId: 'pmt_missing' } : known;
  const path = fc.constantFrom(...route.paths).chain((template) => {
    const names = [...template.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);
    const pieces = names.map((n) => urlPiece(valueFor(fieldSchema(doc.params, n), ids, n)));
    return fc.tuple(...pieces).map((values) => {
      let i = 0;
      return template.replace(/:([A-Za-z_]+)/g, () => values[i++]!);
    });
  });
  const queryKeys = shapeKeys(doc.query);
  const queryPair = (queryKeys.length > 0 ? fc.constantFrom(...queryKeys) : text).chain((k) =>
    urlPiece(valueFor(fieldSchema(doc.query, k), ids, k)).map((v) => `${percentEncode(k)}=${v}`),
  );
  const query = fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: queryPair },
        { weight: 1, arbitrary: text.map((k) => `${percentEncode(k)}=x`) },
      ),
      { maxLength: 4 },
    )
    .map((pairs) => pairs.join('&'));
  const body = fc.oneof(
    { weight: 10, arbitrary: valueFor(doc.body, ids).map((v) => JSON.stringify(v) ?? 'null') },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valueFor(doc.body, ids), fc.dictionary(text, anyJson, { minKeys: 1, maxKeys: 2 }))
        .map(([v, extra]) =>
          JSON.stringify(v !== null && typeof v === 'object' ? { ...extra, ...v } : extra),
        ),
    },
    { weight: 1, arbitrary: fc.constantFrom('{"a":', 'nul', '', '{"name":"\\u0000"}', '"\\ud800"') },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  const encoding = fc.oneof(
    { weight: 12, arbitrary: fc.constant('identity' as const) },
    { weight: 1, arbitrary: fc.constantFrom('gzip' as const, 'gzip-corrupt' as const, 'zstd' as const) },
  );
  return fc
    .record({ path, query, body: doc.method === 'get' ? fc.constant(undefined) : body, encoding })
    .map(({ path: p, query: q, body: b, encoding: e }) => ({
      method: doc.method.toUpperCase(),
      url: q ? `${p}?${q}` : p,
      encoding: b === undefined ? 'identity' : e,
      body: b,
    }));
}
