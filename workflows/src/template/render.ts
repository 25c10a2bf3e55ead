/**
 * Prompt template renderer: walks the AST produced by parseTemplate and concatenates strings.
 * No regex and no re-parsing at render time; variable values are data and are never interpreted.
 *
 * renderTemplate never throws for any variable values: lookups, truthiness checks, iteration and
 * JSON serialisation of user values are all guarded (cycles, BigInt, throwing getters, revoked
 * proxies, ...).
 */
import type { ParsedTemplate, TemplateNode, VariablePath } from './parse.ts';

/** The innermost `#each` iteration. */
interface Frame {
  item: unknown;
  index: number;
}

const EMPTY: Record<string, unknown> = {};

/** Own-property lookup on an object; undefined for primitives, functions, missing or throwing keys. */
function own(obj: unknown, key: string): unknown {
  if (typeof obj !== 'object' || obj === null) return undefined;
  try {
    return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
  } catch {
    return undefined;
  }
}

function resolve(ref: VariablePath, vars: Record<string, unknown>, frame: Frame | undefined): unknown {
  const segments = ref.segments;
  let value: unknown;
  let i = 0;
  if (ref.scope === 'root') {
    value = own(vars, segments[0] ?? '');
    i = 1;
  } else if (frame === undefined) {
    return undefined;
  } else if (ref.scope === 'this') {
    value = frame.item;
  } else {
    return frame.index;
  }
  for (; i < segments.length && value !== undefined; i++) {
    value = own(value, segments[i] ?? '');
  }
  return value;
}

function isTruthy(value: unknown): boolean {
  if (typeof value === 'object' && value !== null) {
    try {
      return !Array.isArray(value) || value.length > 0;
    } catch {
      return true;
    }
  }
  return Boolean(value);
}

/** JSON.stringify fallback for values it rejects: cycles become "[Circular]", BigInt a string. */
function safeJson(value: object): string {
  const ancestors: unknown[] = [];
  try {
    const json = JSON.stringify(value, function (this: unknown, _key: string, val: unknown): unknown {
      if (typeof val === 'bigint') return val.toString();
      if (typeof val !== 'object' || val === null) return val;
      while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
      if (ancestors.includes(val)) return '[Circular]';
      ancestors.push(val);
      return val;
    });
    return typeof json === 'string' ? json : '';
  } catch {
    return '';
  }
}

function stringify(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object': {
      if (value === null) return '';
      try {
        const json = JSON.stringify(value);
        return typeof json === 'string' ? json : '';
      } catch {
        return safeJson(value);
      }
    }
    default:
      // undefined, symbol, function: not data
      return '';
  }
}

function renderNodes(
  nodes: readonly TemplateNode[],
  vars: Record<string, unknown>,
  frame: Frame | undefined,
): string {
  let out = '';
  for (const node of nodes) {
    switch (node.type) {
      case 'text':
        out += node.value;
        break;
      case 'insert': {
        const value = resolve(node.ref, vars, frame);
        if (value === undefined || value === null) {
          if (node.defaultValue !== undefined) out += node.defaultValue;
        } else {
          out += typeof value === 'string' ? value : stringify(value);
        }
        break;
      }
      case 'if': {
        const branch = isTruthy(resolve(node.ref, vars, frame)) ? node.consequent : node.alternate;
        if (branch.length > 0) out += renderNodes(branch, vars, frame);
        break;
      }
      case 'each': {
        const value = resolve(node.ref, vars, frame);
        if (value === undefined || value === null) break;
        out += renderEach(node.body, value, vars);
        break;
      }
    }
  }
  return out;
}

function itemAt(list: readonly unknown[], index: number): unknown {
  try {
    return list[index];
  } catch {
    return undefined;
  }
}

function renderEach(body: readonly TemplateNode[], value: unknown, vars: Record<string, unknown>): string {
  const frame: Frame = { item: value, index: 0 };
  let isArray = false;
  let length = 0;
  try {
    isArray = Array.isArray(value);
    if (isArray) length = (value as readonly unknown[]).length;
  } catch {
    return ''; // e.g. a revoked proxy
  }
  // Non-arrays are iterated as a single-item list.
  if (!isArray) return renderNodes(body, vars, frame);
  const list = value as readonly unknown[];
  let out = '';
  for (let i = 0; i < length; i++) {
    frame.item = itemAt(list, i);
    frame.index = i;
    out += renderNodes(body, vars, frame);
  }
  return out;
}

/**
 * Renders a parsed template. Never throws for any variable values: missing values render as ""
 * (or the tag's default), strings as-is, numbers/booleans/bigints via String(), objects and arrays
 * as JSON, symbols and functions as "".
 */
export function renderTemplate(parsed: ParsedTemplate, variables: Record<string, unknown>): string {
  const vars = typeof variables === 'object' && variables !== null ? variables : EMPTY;
  return renderNodes(parsed.nodes, vars, undefined);
}
