/**
 * Prompt template renderer: walks the AST produced by parseTemplate and concatenates strings.
 * No regex and no re-parsing at render time; variable values are data and are never interpreted.
 *
 * Every render runs within a {@link RenderBudget} (output size, loop iterations, steps, value
 * depth) and throws a {@link TemplateBudgetError} instead of exceeding it. Apart from that it never
 * throws for any variable values: lookups, truthiness checks, iteration and JSON serialisation of
 * user values are all guarded (cycles, BigInt, throwing getters, revoked proxies, ...).
 */
import {
  type RenderBudget,
  resolveRenderBudget,
  TemplateBudgetError,
  type TemplateBudgetReason,
} from './budget.ts';
import type { EachNode, IfNode, InsertNode, ParsedTemplate, TemplateNode, VariablePath } from './parse.ts';
import { JsonLimitExceeded, type ValueJson, valueToJson } from './value-json.ts';

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

/** What one render has spent so far. */
interface RenderState {
  readonly budget: RenderBudget;
  /** Characters the template being rendered may produce: the output limit less earlier parts. */
  outputLimit: number;
  steps: number;
  iterations: number;
  /** JSON text of object values already serialised in this render (a loop inserts the same one). */
  json: Map<object, string> | undefined;
}

/** The tag as written (without its default), for error messages. */
function tagOf(node: InsertNode | IfNode | EachNode): string {
  return node.type === 'insert' ? `{{${node.ref.name}}}` : `{{#${node.type} ${node.ref.name}}}`;
}

const LIMIT_OF: Record<TemplateBudgetReason, keyof RenderBudget> = {
  output_size: 'maxOutputChars',
  iterations: 'maxIterations',
  steps: 'maxSteps',
  value_depth: 'maxValueDepth',
};

function exceeded(state: RenderState, reason: TemplateBudgetReason, node: TemplateNode): TemplateBudgetError {
  const limit = state.budget[LIMIT_OF[reason]];
  return new TemplateBudgetError(reason, limit, node.type === 'text' ? undefined : tagOf(node));
}

/**
 * Steps charged for starting the serialisation of an object value, on top of those for the values
 * it visits (valueToJson): a call costs about 250 ns (the walk, JSON.stringify's setup, the cache entry), a step
 * about 10-20 ns. Without it a template of many `{{o.k1}}{{o.k2}}…` tags over tiny objects would do
 * ~10× more work per step than anything else.
 */
const SERIALISE_STEPS = 10;

/** JSON text of an object value, within what is left of the output and step limits. */
function objectJson(value: object, out: string, state: RenderState, node: InsertNode): string {
  const cached = state.json?.get(value);
  if (cached !== undefined) return cached;
  state.steps += SERIALISE_STEPS;
  if (state.steps > state.budget.maxSteps) throw exceeded(state, 'steps', node);
  let result: ValueJson;
  try {
    result = valueToJson(value, {
      maxChars: state.outputLimit - out.length,
      maxDepth: state.budget.maxValueDepth,
      maxSteps: state.budget.maxSteps - state.steps,
    });
  } catch (error) {
    if (error instanceof JsonLimitExceeded) throw exceeded(state, error.reason, node);
    throw error;
  }
  state.steps += result.steps;
  state.json ??= new Map();
  state.json.set(value, result.text);
  return result.text;
}

function stringify(value: unknown, out: string, state: RenderState, node: InsertNode): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      return value === null ? '' : objectJson(value, out, state, node);
    default:
      // undefined, symbol, function: not data
      return '';
  }
}

/** The node of a list that does not fit in `room` steps (one step a node). */
function firstOver(nodes: readonly TemplateNode[], room: number): TemplateNode {
  return nodes[Math.max(0, Math.min(nodes.length - 1, Math.floor(room)))] as TemplateNode;
}

function renderNodes(
  nodes: readonly TemplateNode[],
  vars: Record<string, unknown>,
  frame: Frame | undefined,
  state: RenderState,
  out: string,
): string {
  const maxSteps = state.budget.maxSteps;
  const maxOutputChars = state.outputLimit;
  // One step per node, charged for the whole list before any of it renders (the node named in
  // the error is the first that does not fit); path segments are added tag by tag below. Counted
  // in a local, written back to the state around every call that reads or adds to it: per-node
  // updates of the state cost ~5% of the throughput of a typical render.
  let steps = state.steps + nodes.length;
  if (steps > maxSteps) throw exceeded(state, 'steps', firstOver(nodes, maxSteps - state.steps));
  for (const node of nodes) {
    if (node.type === 'text') {
      // The commonest node, inlined.
      if (out.length + node.value.length > maxOutputChars) throw exceeded(state, 'output_size', node);
      out += node.value;
      continue;
    }
    // One step for each path segment the tag looks up.
    steps += node.ref.segments.length;
    if (steps > maxSteps) throw exceeded(state, 'steps', node);
    switch (node.type) {
      case 'insert': {
        const value = resolve(node.ref, vars, frame);
        let text: string;
        if (value === undefined || value === null) {
          if (node.defaultValue === undefined) break;
          text = node.defaultValue;
        } else if (typeof value === 'string') {
          text = value;
        } else {
          state.steps = steps;
          text = stringify(value, out, state, node);
          steps = state.steps;
        }
        if (out.length + text.length > maxOutputChars) throw exceeded(state, 'output_size', node);
        out += text;
        break;
      }
      case 'if': {
        const branch = isTruthy(resolve(node.ref, vars, frame)) ? node.consequent : node.alternate;
        if (branch.length === 0) break;
        state.steps = steps;
        out = renderNodes(branch, vars, frame, state, out);
        steps = state.steps;
        break;
      }
      case 'each': {
        const value = resolve(node.ref, vars, frame);
        if (value === undefined || value === null) break;
        state.steps = steps;
        out = renderEach(node, value, vars, state, out);
        steps = state.steps;
        break;
      }
    }
  }
  state.steps = steps;
  return out;
}

function itemAt(list: readonly unknown[], index: number): unknown {
  try {
    return list[index];
  } catch {
    return undefined;
  }
}

function renderEach(
  node: EachNode,
  value: unknown,
  vars: Record<string, unknown>,
  state: RenderState,
  out: string,
): string {
  const frame: Frame = { item: value, index: 0 };
  let isArray = false;
  let length: unknown = 0;
  try {
    isArray = Array.isArray(value);
    if (isArray) length = (value as readonly unknown[]).length;
  } catch {
    return out; // e.g. a revoked proxy
  }
  // Non-arrays are iterated as a single-item list. A proxy may report any length: count what a
  // `for (i < length)` loop would run.
  const count = !isArray ? 1 : typeof length === 'number' && length > 0 ? Math.ceil(length) : 0;
  // Charged for the whole list before any item renders, so a loop that cannot finish costs nothing.
  if (state.iterations + count > state.budget.maxIterations) throw exceeded(state, 'iterations', node);
  state.iterations += count;
  if (!isArray) return renderNodes(node.body, vars, frame, state, out);
  const list = value as readonly unknown[];
  for (let i = 0; i < count; i++) {
    frame.item = itemAt(list, i);
    frame.index = i;
    out = renderNodes(node.body, vars, frame, state, out);
  }
  return out;
}

function newState(budget: Partial<RenderBudget> | undefined): RenderState {
  const resolved = resolveRenderBudget(budget);
  return { budget: resolved, outputLimit: resolved.maxOutputChars, steps: 0, iterations: 0, json: undefined };
}

function variablesOrEmpty(variables: Record<string, unknown>): Record<string, unknown> {
  return typeof variables === 'object' && variables !== null ? variables : EMPTY;
}

/**
 * Renders a parsed template within `budget` (defaults: DEFAULT_RENDER_BUDGET; give only the
 * limits to change). Missing values render as "" (or the tag's default), strings as-is,
 * numbers/booleans/bigints via String(), objects and arrays as JSON, symbols and functions as "".
 *
 * Throws {@link TemplateBudgetError} when the render would exceed a limit, before doing the work
 * that would exceed it; never throws anything else for any variable values. Throws a RangeError
 * for a budget with a limit that is not a number >= 0.
 */
export function renderTemplate(
  parsed: ParsedTemplate,
  variables: Record<string, unknown>,
  budget?: Partial<RenderBudget>,
): string {
  return renderNodes(parsed.nodes, variablesOrEmpty(variables), undefined, newState(budget), '');
}

/**
 * Renders several templates over the same values within one budget shared by all of them: the
 * messages of a chat prompt are one render, so that a version cannot multiply the budget by its
 * number of messages. The output limit applies to the total length of the results. Otherwise as
 * {@link renderTemplate}.
 */
export function renderTemplates(
  parts: readonly ParsedTemplate[],
  variables: Record<string, unknown>,
  budget?: Partial<RenderBudget>,
): string[] {
  const vars = variablesOrEmpty(variables);
  const state = newState(budget);
  return parts.map((parsed) => {
    const text = renderNodes(parsed.nodes, vars, undefined, state, '');
    state.outputLimit -= text.length;
    return text;
  });
}
