import type { RunPromptWorkflowInput } from '../workflows/run-prompt.workflow.ts';
import type { ErrorCode } from './errors.ts';
import type { RunError, TokenUsage } from './run.ts';

// Chains (API `/v1/workflows`): prompts wired into a graph. The definition types, the reference
// syntax of step variables (`{{input.x}}`, `{{steps.<id>.output}}`, `{{steps.<id>.json.<path>}}`),
// and what the chain workflow and its activities exchange. Pure code: the api validates with it and
// the workflow resolves with it, so both read references alike.

export const MAX_CHAIN_STEPS = 50;
export const STEP_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export type OnError = 'fail' | 'continue';

/** One step as defined (stored in a revision): the prompt as the user named it (id or name). */
export interface ChainStepDef {
  id: string;
  prompt: string;
  version?: number | undefined;
  label?: string | undefined;
  /** prompt variable → literal JSON value, or a string with references inside */
  variables: Record<string, unknown>;
  dependsOn: string[];
  onError: OnError;
  /** overrides the version's model */
  model?: string | undefined;
}

export interface ChainInputSpec {
  name: string;
  required: boolean;
  default?: string | undefined;
  description?: string | undefined;
}

/** The chain's output: one step's output, or a template over step outputs (and input). */
export type ChainOutputSpec = { step: string } | { template: string };

export interface ChainDefinition {
  input: ChainInputSpec[];
  steps: ChainStepDef[];
  output?: ChainOutputSpec | undefined;
}

export type Reference =
  | { kind: 'input'; name: string }
  | { kind: 'output'; step: string }
  | { kind: 'json'; step: string; path: string[] };

export interface ReferenceToken {
  /** the whole `{{…}}` text */
  raw: string;
  ref: Reference | undefined;
}

const TOKEN = /\{\{([^{}]*)\}\}/g;
const REF =
  /^\s*(?:input\.([A-Za-z_][A-Za-z0-9_]*)|steps\.([A-Za-z][A-Za-z0-9_-]{0,63})\.(output|json)((?:\.[^.\s]+)*))\s*$/;

/** Every `{{…}}` in a string; `ref` undefined for one that is not a valid reference. */
export function referenceTokens(value: string): ReferenceToken[] {
  const out: ReferenceToken[] = [];
  for (const m of value.matchAll(TOKEN)) {
    const r = REF.exec(m[1] ?? '');
    let ref: Reference | undefined;
    if (r?.[1]) ref = { kind: 'input', name: r[1] };
    else if (r?.[2] && r[3] === 'output' && !r[4]) ref = { kind: 'output', step: r[2] };
    else if (r?.[2] && r[3] === 'json')
      ref = { kind: 'json', step: r[2], path: (r[4] ?? '').split('.').slice(1) };
    out.push({ raw: m[0], ref });
  }
  return out;
}

/** Every string inside a variable value (strings nested in arrays and objects carry references too). */
export function stringsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsIn(v, out);
  else if (value !== null && typeof value === 'object')
    for (const v of Object.values(value)) stringsIn(v, out);
  return out;
}

/** The steps whose `.json` a step reads (in its variables, or in the chain's output template). */
export function jsonReadsOf(values: readonly unknown[]): Set<string> {
  const steps = new Set<string>();
  for (const s of values.flatMap((v) => stringsIn(v))) {
    for (const t of referenceTokens(s)) if (t.ref?.kind === 'json') steps.add(t.ref.step);
  }
  return steps;
}

export class StepOutputError extends Error {
  readonly code: ErrorCode = 'INVALID_STEP_OUTPUT';
}

export interface ReferenceContext {
  input: Record<string, unknown>;
  /** finished steps' outputs (a failed step with onError: continue has null) */
  outputs: ReadonlyMap<string, string | null>;
}

function lookupJson(ctx: ReferenceContext, step: string, path: string[]): unknown {
  const output = ctx.outputs.get(step);
  if (output === null || output === undefined) {
    throw new StepOutputError(`Step '${step}' has no output to read as JSON`);
  }
  let value: unknown;
  try {
    value = JSON.parse(output);
  } catch {
    throw new StepOutputError(`Step '${step}' output is not JSON`);
  }
  for (const part of path) {
    const isIndexable = value !== null && typeof value === 'object' && Object.hasOwn(value, part);
    if (!isIndexable) throw new StepOutputError(`Step '${step}' output has no value at '${path.join('.')}'`);
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function referencedValue(ref: Reference, ctx: ReferenceContext): unknown {
  if (ref.kind === 'input') return ctx.input[ref.name] ?? '';
  if (ref.kind === 'output') return ctx.outputs.get(ref.step) ?? '';
  return lookupJson(ctx, ref.step, ref.path);
}

const asText = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

/**
 * A variable value with its references filled in. A string that is exactly one reference takes the
 * referenced value as is (a JSON list stays a list, for `{{#each}}`); references inside longer text
 * are inserted as text (JSON values as JSON). Throws StepOutputError for unreadable JSON.
 */
export function resolveValue(value: unknown, ctx: ReferenceContext): unknown {
  if (typeof value === 'string') {
    const tokens = referenceTokens(value);
    const [only] = tokens;
    if (tokens.length === 1 && only?.ref && only.raw === value.trim()) return referencedValue(only.ref, ctx);
    let text = value;
    for (const t of tokens) if (t.ref) text = text.replace(t.raw, () => asText(referencedValue(t.ref!, ctx)));
    return text;
  }
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, ctx));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveValue(v, ctx)]));
  }
  return value;
}

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'canceled' | 'skipped';
export type ChainRunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

/** A step as a chain run executes it: its prompt version pinned when the run started. */
export interface PinnedStep {
  id: string;
  dependsOn: string[];
  onError: OnError;
  variables: Record<string, unknown>;
  promptId: string;
  promptName: string;
  versionId: string;
  promptVersion: number;
  model: string;
  /** a later step (or the output) reads this step's output as JSON: it must be JSON */
  isJsonRead: boolean;
}

export interface ChainWorkflowInput {
  chainRunId: string;
  chainId: string;
  chainName: string;
  revision: number;
  orgId: string;
  keyId: string | null;
  /** the chain's input with defaults applied */
  input: Record<string, unknown>;
  /** in dependency order: every step comes after the steps it depends on */
  steps: PinnedStep[];
  output?: ChainOutputSpec | undefined;
  retry: { maxAttempts: number; initialIntervalMs: number };
}

export interface ChainOutcome {
  chainRunId: string;
  status: Exclude<ChainRunStatus, 'queued' | 'running'>;
  output: string | null;
  error: RunError | null;
  usage: TokenUsage;
}

export interface StartStepRequest {
  chainRunId: string;
  orgId: string;
  keyId: string | null;
  runId: string;
  step: PinnedStep;
  variables: Record<string, unknown>;
  retry: { maxAttempts: number; initialIntervalMs: number };
}

export type StartStepResult = { ok: true; input: RunPromptWorkflowInput } | { ok: false; error: RunError };

export interface RecordStepRequest {
  chainRunId: string;
  orgId: string;
  stepId: string;
  /** the metrics label of the step's prompt */
  promptName: string;
  /** the step's run, when it got one: its row is the step's status, output, usage and attempts */
  runId: string | null;
  /**
   * Why the step ended when its run did not record an end (no run, a run never started, a child
   * that did not complete): a run row still open is closed with it, its reservation released.
   */
  status?: 'failed' | 'canceled' | undefined;
  error?: RunError | undefined;
  isJsonRead: boolean;
}

export interface StepResult {
  status: 'succeeded' | 'failed' | 'canceled';
  output: string | null;
  error: RunError | null;
}

export interface FinishChainRequest {
  chainRunId: string;
  orgId: string;
  chainId: string;
  chainName: string;
  revision: number;
  status: ChainOutcome['status'];
  output: string | null;
  error: RunError | null;
}

export interface ChainActivities {
  startChainStep(req: StartStepRequest): Promise<StartStepResult>;
  recordChainStep(req: RecordStepRequest): Promise<StepResult>;
  finishChainRun(req: FinishChainRequest): Promise<{ usage: TokenUsage }>;
}
