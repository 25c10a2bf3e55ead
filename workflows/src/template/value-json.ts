/**
 * JSON text of an object or array variable value (`{{obj}}`, `{{this}}` on an object item), with
 * the semantics of JSON.stringify and three bounds: characters, nesting depth and steps (values
 * visited, weighted by what a visit costs).
 *
 * The native JSON.stringify does the serialising, and the limits are checked before or while it
 * runs, so an oversized value costs about as much as the limit, never its whole size:
 * - plain data (what JSON.parse produces: plain objects, arrays, strings, numbers, booleans, null)
 *   is measured by a walk first and then serialised natively in one go;
 * - anything else (Dates and other toJSON, Maps, class instances, BigInt, cycles, ...) is
 *   serialised with a replacer that counts along and aborts JSON.stringify at a limit. That costs
 *   about 100 ns per value against about 10-20 for the walk, hence the two paths, and a value
 *   visited by the replacer costs REPLACER_VISIT_STEPS steps instead of one. Values from JSON
 *   request bodies always take the plain path.
 * Values that JSON.stringify rejects are rendered anyway: BigInt as its decimal string, cycles as
 * "[Circular]"; anything else that throws (a throwing getter or toJSON, a revoked proxy) renders
 * as "".
 */

export type JsonLimitReason = 'output_size' | 'value_depth' | 'steps';

export interface JsonLimits {
  /** Characters the JSON text may have. */
  maxChars: number;
  /** Object/array levels (`[[1]]` has 2). */
  maxDepth: number;
  /** Steps the serialisation may take: one per value on the plain path, REPLACER_VISIT_STEPS on the other. */
  maxSteps: number;
}

/** Thrown out of the replacer (which aborts JSON.stringify) when a limit is hit. */
export class JsonLimitExceeded extends Error {
  readonly reason: JsonLimitReason;

  constructor(reason: JsonLimitReason) {
    super(`JSON serialisation limit exceeded: ${reason}`);
    this.name = 'JsonLimitExceeded';
    this.reason = reason;
  }
}

export interface ValueJson {
  text: string;
  /** Steps taken, including those of attempts that failed (that was work done too). */
  steps: number;
}

/** Steps taken so far, shared by every attempt. */
interface StepCounter {
  steps: number;
}

/** A value visited through the replacer costs ~5× a value visited by the plain walk. */
const REPLACER_VISIT_STEPS = 5;

/** Thrown by the walk when the value is not plain data: serialise it with the replacer instead. */
const NOT_PLAIN = Symbol('not plain data');

/**
 * Walks plain data, counting steps and a lower bound of its JSON length (the same counts as the
 * replacer below) and checking the limits. Throws NOT_PLAIN, without side effects beyond reading
 * properties, as soon as it meets something JSON.stringify would treat specially, or a nesting too
 * deep (that may be a cycle, which the replacer renders as "[Circular]").
 */
function measurePlain(value: unknown, depth: number, limits: JsonLimits, counter: StepCounter): number {
  if (++counter.steps > limits.maxSteps) throw new JsonLimitExceeded('steps');
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
    case 'boolean':
      return 1;
    case 'undefined':
    case 'function':
    case 'symbol':
      return 0; // left out (or null in arrays)
    case 'object': {
      if (value === null) return 1;
      if (depth >= limits.maxDepth) throw NOT_PLAIN;
      const proto = Object.getPrototypeOf(value);
      const isArray = Array.isArray(value);
      if (isArray ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) throw NOT_PLAIN;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') throw NOT_PLAIN;
      let chars = 1;
      if (isArray) {
        const list = value as readonly unknown[];
        for (let i = 0; i < list.length; i++) {
          chars += measurePlain(list[i], depth + 1, limits, counter);
          if (chars > limits.maxChars) throw new JsonLimitExceeded('output_size');
        }
      } else {
        const record = value as Record<string, unknown>;
        for (const key of Object.keys(record)) {
          chars += measurePlain(record[key], depth + 1, limits, counter);
          if (chars > limits.maxChars) throw new JsonLimitExceeded('output_size');
        }
      }
      return chars;
    }
    default:
      throw NOT_PLAIN; // bigint
  }
}

/** The plain-data path: undefined when the value needs the replacer path. */
function serializePlain(value: object, limits: JsonLimits, counter: StepCounter): string | undefined {
  try {
    if (measurePlain(value, 0, limits, counter) > limits.maxChars) throw new JsonLimitExceeded('output_size');
    const text = JSON.stringify(value);
    if (text.length > limits.maxChars) throw new JsonLimitExceeded('output_size');
    return text;
  } catch (error) {
    if (error instanceof JsonLimitExceeded) throw error;
    return undefined; // NOT_PLAIN, a throwing getter or proxy trap, a stack overflow
  }
}

function serialize(value: object, limits: JsonLimits, counter: StepCounter, markCycles: boolean): string {
  // The objects whose properties are being serialised, outermost first: `this` in the replacer is
  // the holder of the current value, so everything above it on this stack has been finished.
  const holders: unknown[] = [];
  // A lower bound of the JSON text length, so that the serialisation stops as soon as it is known
  // to be too long (keys and punctuation are not counted; the exact length is checked at the end).
  let chars = 0;
  const replacer = function (this: unknown, _key: string, val: unknown): unknown {
    counter.steps += REPLACER_VISIT_STEPS;
    if (counter.steps > limits.maxSteps) throw new JsonLimitExceeded('steps');
    while (holders.length > 0 && holders[holders.length - 1] !== this) holders.pop();
    let out = val;
    switch (typeof val) {
      case 'string':
        chars += val.length + 2;
        break;
      case 'bigint': {
        const digits = val.toString();
        out = digits;
        chars += digits.length + 2;
        break;
      }
      case 'number':
      case 'boolean':
        chars += 1;
        break;
      case 'object':
        chars += 1;
        if (val === null) break;
        if (markCycles && holders.includes(val)) {
          out = '[Circular]';
          chars += 11;
          break;
        }
        if (holders.length >= limits.maxDepth) throw new JsonLimitExceeded('value_depth');
        holders.push(val);
        break;
      default:
      // undefined, functions and symbols are left out by JSON.stringify
    }
    if (chars > limits.maxChars) throw new JsonLimitExceeded('output_size');
    return out;
  };
  const json = JSON.stringify(value, replacer);
  const text = typeof json === 'string' ? json : '';
  if (text.length > limits.maxChars) throw new JsonLimitExceeded('output_size');
  return text;
}

/**
 * JSON text of `value` within `limits`. Throws {@link JsonLimitExceeded} when a limit is hit and
 * nothing else: values JSON.stringify cannot serialise are rendered as described above.
 */
export function valueToJson(value: object, limits: JsonLimits): ValueJson {
  const counter: StepCounter = { steps: 0 };
  const plain = serializePlain(value, limits, counter);
  if (plain !== undefined) return { text: plain, steps: counter.steps };
  try {
    return { text: serialize(value, limits, counter, false), steps: counter.steps };
  } catch (error) {
    if (error instanceof JsonLimitExceeded) throw error;
  }
  // Last attempt, marking cycles: the one before failed on a cycle or on a value that throws. The
  // steps of every attempt count against the limit, so the retries do not add unbounded work.
  try {
    return { text: serialize(value, limits, counter, true), steps: counter.steps };
  } catch (error) {
    if (error instanceof JsonLimitExceeded) throw error;
    return { text: '', steps: counter.steps };
  }
}
