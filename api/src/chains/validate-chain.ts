import { findPrompt, type PromptRow, type Sql, type VersionRow } from '@promptmill/infra/db';
import { type ChainStepDef, referenceTokens, stringsIn } from '@promptmill/workflows';
import { checkVariables } from '@promptmill/workflows/template';
import type { AuthContext } from '../auth/auth-context.ts';
import { assertPromptAllowed } from '../auth/scopes.ts';
import { AppError, type ErrorDetail } from '../http/app-error.ts';
import { resolveVersion } from '../prompts/versions.ts';
import type { ChainBody, ChainBodyIn } from './chains.schemas.ts';

// A chain definition is checked in full before it is saved (and its prompts again when a run
// starts): every problem is reported at once, in `details`, as 400 INVALID_CHAIN.

export interface ResolvedStep {
  step: ChainStepDef;
  prompt: PromptRow;
  version: VersionRow;
}

/** Step id → its dependencies (a duplicate id, reported on its own, keeps the first step's). */
function dependencyMap(steps: readonly { id: string; dependsOn: readonly string[] }[]) {
  const deps = new Map<string, readonly string[]>();
  for (const s of steps) if (!deps.has(s.id)) deps.set(s.id, s.dependsOn);
  return deps;
}

/** The cycles of the dependency graph, each named by its steps: `a → b → a`. */
export function findCycles(steps: readonly { id: string; dependsOn: readonly string[] }[]): string[][] {
  const deps = dependencyMap(steps);
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[][] = [];
  const path: string[] = [];
  const visit = (id: string) => {
    state.set(id, 'open');
    path.push(id);
    for (const d of deps.get(id) ?? []) {
      if (!deps.has(d)) continue;
      const s = state.get(d);
      if (s === 'open') cycles.push([...path.slice(path.indexOf(d)), d]);
      else if (s === undefined) visit(d);
    }
    path.pop();
    state.set(id, 'done');
  };
  for (const s of steps) if (!state.has(s.id)) visit(s.id);
  return cycles;
}

/** Steps in dependency order (each after everything it depends on); the graph has no cycle. */
export function dependencyOrder<S extends { id: string; dependsOn: readonly string[] }>(
  steps: readonly S[],
): S[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const placed = new Set<string>();
  const out: S[] = [];
  const place = (s: S) => {
    if (placed.has(s.id)) return;
    placed.add(s.id);
    for (const d of s.dependsOn) {
      const dep = byId.get(d);
      if (dep) place(dep);
    }
    out.push(s);
  };
  for (const s of steps) place(s);
  return out;
}

/**
 * Every step a step depends on, directly or through others (a walk per step: no memo, which a cycle
 * would leave half-filled and report a real dependency as missing).
 */
function ancestorsOf(
  steps: readonly { id: string; dependsOn: readonly string[] }[],
): Map<string, Set<string>> {
  const deps = dependencyMap(steps);
  const of = (id: string): Set<string> => {
    const all = new Set<string>();
    const todo = [...(deps.get(id) ?? [])];
    for (let d = todo.pop(); d !== undefined; d = todo.pop()) {
      if (all.has(d) || !deps.has(d)) continue;
      all.add(d);
      todo.push(...(deps.get(d) ?? []));
    }
    return all;
  };
  return new Map(steps.map((s) => [s.id, of(s.id)]));
}

/**
 * The body with its input contract: as sent, or (left out) every `{{input.x}}` the steps and the output
 * template reference, each required, in order of first use, so `{{input.x}}` works without declaring it.
 */
export function withInputContract(body: ChainBodyIn): ChainBody {
  if (body.input) return { ...body, input: body.input };
  const names = new Set<string>();
  const values: unknown[] = body.steps.flatMap((s) => Object.values(s.variables));
  if (body.output && 'template' in body.output) values.push(body.output.template);
  for (const text of values.flatMap((v) => stringsIn(v))) {
    for (const t of referenceTokens(text)) if (t.ref?.kind === 'input') names.add(t.ref.name);
  }
  return { ...body, input: [...names].map((name) => ({ name, required: true })) };
}

/** The graph and its references: duplicate ids, unknown dependencies, cycles, bad references. */
export function checkChainGraph(body: ChainBody): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const ids = new Set<string>();
  for (const [i, s] of body.steps.entries()) {
    if (ids.has(s.id)) details.push({ field: `steps[${i}].id`, message: `Duplicate step id '${s.id}'` });
    ids.add(s.id);
    for (const [j, d] of s.dependsOn.entries()) {
      if (!body.steps.some((o) => o.id === d)) {
        details.push({ field: `steps[${i}].dependsOn[${j}]`, message: `Unknown step '${d}'` });
      } else if (d === s.id) {
        details.push({ field: `steps[${i}].dependsOn[${j}]`, message: `Step '${s.id}' depends on itself` });
      }
    }
  }
  const cycles = findCycles(body.steps).filter((c) => c.length > 2);
  for (const c of cycles) details.push({ field: 'steps', message: `Cycle: ${c.join(' → ')}` });
  const inputs = new Set(body.input.map((v) => v.name));
  const ancestors = ancestorsOf(body.steps);
  const checkRefs = (field: string, value: unknown, stepId: string | undefined) => {
    for (const text of stringsIn(value)) {
      for (const t of referenceTokens(text)) {
        const ref = t.ref;
        if (!ref) {
          details.push({
            field,
            message: `'${t.raw}' is not a reference: use {{input.x}}, {{steps.<id>.output}} or {{steps.<id>.json.<path>}}`,
          });
        } else if (ref.kind === 'input') {
          if (!inputs.has(ref.name))
            details.push({ field, message: `'${t.raw}': the input declares no '${ref.name}'` });
        } else if (!ids.has(ref.step)) {
          details.push({ field, message: `'${t.raw}': unknown step '${ref.step}'` });
        } else if (stepId !== undefined && !ancestors.get(stepId)?.has(ref.step)) {
          details.push({
            field,
            message: `'${t.raw}': step '${ref.step}' is not a dependency of step '${stepId}' (add it to dependsOn)`,
          });
        }
      }
    }
  };
  for (const [i, s] of body.steps.entries()) {
    for (const [name, value] of Object.entries(s.variables))
      checkRefs(`steps[${i}].variables.${name}`, value, s.id);
  }
  if (body.output && 'step' in body.output && !ids.has(body.output.step)) {
    details.push({ field: 'output.step', message: `Unknown step '${body.output.step}'` });
  }
  if (body.output && 'template' in body.output) checkRefs('output.template', body.output.template, undefined);
  return details;
}

/**
 * Resolves each step's prompt and version (as a run would now) and checks its variables against the
 * version's contract. A key restricted to some prompts may only name those (403 FORBIDDEN).
 */
export async function resolveChainSteps(
  sql: Sql,
  auth: AuthContext,
  steps: readonly ChainStepDef[],
): Promise<{ resolved: ResolvedStep[]; details: ErrorDetail[] }> {
  const details: ErrorDetail[] = [];
  const resolved: ResolvedStep[] = [];
  const found = await Promise.all(
    steps.map(async (step) => {
      const prompt = await findPrompt(sql, auth.org.id, step.prompt);
      const version = prompt ? await resolveVersion(sql, prompt, step) : undefined;
      return { step, prompt, version };
    }),
  );
  for (const [i, { step, prompt, version }] of found.entries()) {
    if (!prompt) {
      details.push({ field: `steps[${i}].prompt`, message: `Unknown prompt '${step.prompt}'` });
      continue;
    }
    assertPromptAllowed(auth, prompt.id);
    if (!version) {
      const which =
        step.version !== undefined
          ? `version ${step.version}`
          : `version labelled '${step.label ?? 'production'}'`;
      details.push({
        field: `steps[${i}].${step.version !== undefined ? 'version' : 'label'}`,
        message: `Prompt '${step.prompt}' has no ${which}`,
      });
      continue;
    }
    const { missing, unknown } = checkVariables(version.variables, step.variables);
    for (const name of missing) {
      details.push({
        field: `steps[${i}].variables.${name}`,
        message: `Prompt '${step.prompt}' version ${version.version} requires variable '${name}'`,
      });
    }
    for (const name of unknown) {
      details.push({
        field: `steps[${i}].variables.${name}`,
        message: `Prompt '${step.prompt}' version ${version.version} does not declare variable '${name}'`,
      });
    }
    resolved.push({ step, prompt, version });
  }
  return { resolved, details };
}

export function invalidChain(details: ErrorDetail[]): AppError {
  const first = details[0]?.message ?? 'invalid chain';
  const more = details.length > 1 ? ` (and ${details.length - 1} more problems: see details)` : '';
  return new AppError('INVALID_CHAIN', `The chain definition is invalid: ${first}${more}`, { details });
}

/** Every problem of a definition at once; the steps resolved when it has none. */
export async function validateChain(sql: Sql, auth: AuthContext, body: ChainBody): Promise<ResolvedStep[]> {
  const graph = checkChainGraph(body);
  const { resolved, details } = await resolveChainSteps(sql, auth, body.steps);
  const all = [...graph, ...details];
  if (all.length > 0) throw invalidChain(all);
  return resolved;
}
