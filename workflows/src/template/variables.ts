/**
 * Variable inference and validation for one or more parsed templates (e.g. the messages of a chat
 * prompt). Pure and deterministic.
 */
import type { ParsedTemplate, TemplateNode } from './parse.ts';

export interface VariableSpec {
  name: string;
  required: boolean;
  default?: string;
  description?: string;
}

export interface VariableCheck {
  /** Required spec names whose value is undefined in `provided` and that have no spec default. */
  missing: string[];
  /** Names in `provided` (with a defined value) that the spec does not declare. */
  unknown: string[];
}

interface Usage {
  name: string;
  /** Used somewhere (outside a guarding `#if`) in a way that needs a value. */
  needed: boolean;
  /** First default written on the bare top-level name (`{{name|…}}`). */
  defaultValue: string | undefined;
}

function ownValue(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function collect(
  nodes: readonly TemplateNode[],
  guards: readonly string[],
  usages: Map<string, Usage>,
): void {
  for (const node of nodes) {
    if (node.type === 'text') continue;
    const ref = node.ref;
    let head: string | undefined;
    let usage: Usage | undefined;
    if (ref.scope === 'root') {
      head = ref.segments[0] ?? ref.name;
      usage = usages.get(head);
      if (usage === undefined) {
        usage = { name: head, needed: false, defaultValue: undefined };
        usages.set(head, usage);
      }
    }
    switch (node.type) {
      case 'insert':
        if (usage !== undefined && head !== undefined) {
          if (node.defaultValue !== undefined) {
            if (ref.segments.length === 1 && usage.defaultValue === undefined) {
              usage.defaultValue = node.defaultValue;
            }
          } else if (!guards.includes(head)) {
            usage.needed = true;
          }
        }
        break;
      case 'if':
        // A condition alone never makes a variable required, and inside the `then` branch the
        // condition's top-level name is known to be present.
        collect(node.consequent, head === undefined ? guards : [...guards, head], usages);
        collect(node.alternate, guards, usages);
        break;
      case 'each':
        if (usage !== undefined && head !== undefined && !guards.includes(head)) usage.needed = true;
        collect(node.body, guards, usages);
        break;
    }
  }
}

/**
 * Infers the variables of one or more templates: top-level names (first path segment) in order of
 * first appearance. A variable is required unless it has a default (`{{name|…}}` anywhere), or it is
 * only used as an `#if` condition / inside the `then` branch of an `#if` on the same name, or only
 * through dotted paths / inserts that carry a default. `this…` and `@index` are never listed.
 */
export function inferVariables(parsed: readonly ParsedTemplate[]): VariableSpec[] {
  const usages = new Map<string, Usage>();
  for (const template of parsed) collect(template.nodes, [], usages);
  const specs: VariableSpec[] = [];
  for (const usage of usages.values()) {
    specs.push(
      usage.defaultValue === undefined
        ? { name: usage.name, required: usage.needed }
        : { name: usage.name, required: false, default: usage.defaultValue },
    );
  }
  return specs;
}

/**
 * Compares provided values with a spec. A value counts as absent only when it is undefined (null is
 * an explicit value); a spec default counts as present.
 */
export function checkVariables(
  spec: readonly VariableSpec[],
  provided: Record<string, unknown>,
): VariableCheck {
  const known = new Set<string>();
  const missing: string[] = [];
  for (const s of spec) {
    known.add(s.name);
    if (s.required && s.default === undefined && ownValue(provided, s.name) === undefined)
      missing.push(s.name);
  }
  const unknown: string[] = [];
  for (const key of Object.keys(provided)) {
    if (!known.has(key) && provided[key] !== undefined) unknown.push(key);
  }
  return { missing, unknown };
}

/**
 * Returns a new object: `provided` plus each spec default whose variable is undefined or null in
 * `provided` (the same values that would make an inline `{{name|default}}` fall back). `provided`
 * is not modified.
 */
export function applyDefaults(
  spec: readonly VariableSpec[],
  provided: Record<string, unknown>,
): Record<string, unknown> {
  const entries: [string, unknown][] = Object.entries(provided);
  for (const s of spec) {
    if (s.default === undefined) continue;
    const value = ownValue(provided, s.name);
    if (value === undefined || value === null) entries.push([s.name, s.default]);
  }
  // Object.fromEntries defines own data properties, so a "__proto__" key stays a plain key.
  return Object.fromEntries(entries);
}
