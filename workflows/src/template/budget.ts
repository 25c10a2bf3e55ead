/**
 * The render budget: how much work one renderTemplate call may do before it gives up with a
 * TemplateBudgetError. A template is small, but `#each` multiplies it by the size of its list and
 * nested loops multiply again, so without a budget a few hundred bytes of template and values can
 * keep the event loop busy for seconds and build strings of hundreds of megabytes.
 *
 * Pure and deterministic, like the rest of the engine (usable in the Temporal workflow sandbox).
 */

/** Which limit of the {@link RenderBudget} a render hit. */
export type TemplateBudgetReason = 'output_size' | 'iterations' | 'steps' | 'value_depth';

export interface RenderBudget {
  /** Characters (UTF-16 code units) the rendered text may have. Reason `output_size`. */
  maxOutputChars: number;
  /**
   * `#each` items rendered in total over the whole render; nested loops multiply (an inner loop
   * over 40 items inside an outer loop over 40 items costs 40 + 40 × 40). A non-array value counts
   * as one item. A loop is charged for its whole list before its first item renders. Reason
   * `iterations`.
   */
  maxIterations: number;
  /**
   * Units of work over the whole render: every text piece, tag and section evaluated counts one,
   * every path segment looked up (`{{a.b.c}}` → 3) counts one, and serialising an object or array
   * to JSON counts ten plus one per value it visits (five per value for values that are not plain
   * JSON data, such as Dates or Maps, which take a slower path; an object inserted again in the
   * same render is not serialised again). A list of nodes (the template, a loop body, a branch) is
   * charged one step a node before any of it renders. Bounds what the other limits do not: a long
   * loop body of tags that render nothing, long dotted paths, wide objects. Reason `steps`.
   */
  maxSteps: number;
  /**
   * Object/array levels the renderer walks when it serialises a value to JSON (`{{obj}}`,
   * `{{this}}` on an object item): `[[1]]` has 2. Path lookups are bounded by the template, `#if`
   * and `#each` only look at the top level, so this is the only place values are walked in depth.
   * Reason `value_depth`.
   */
  maxValueDepth: number;
}

/**
 * Defaults, chosen so that the worst case of a render that stays within them is a few milliseconds
 * (bench/render.bench.ts prints the measured worst case) while real prompts are far inside them:
 *
 * - maxOutputChars 1,000,000: about 250k tokens, beyond the context window of most models, and the
 *   scale of the api's request body limit (MAX_BODY_BYTES, 1 MiB), so whatever a client may send
 *   as a literal variable value still fits in the rendered prompt. Appending a string value is
 *   O(1) (V8 ropes); the per-character cost that matters is serialising object values to JSON,
 *   which this also bounds (~1.2 ms for 900,000 characters of JSON).
 * - maxIterations 10,000: a list of 10,000 items at the output limit leaves 100 characters an
 *   item; retrieval prompts loop over tens of documents. Nested loops over a 100-item list reach it
 *   at the second level (100 + 100 × 100), which is the point: that is where expansion turns
 *   quadratic.
 * - maxSteps 100,000: the realistic ~2 KB chat prompt in bench/render.bench.ts takes 157 steps, a
 *   1,000-document loop with 20 tags per item ~20,000, inserting a 50,000-value JSON document
 *   ~50,000. The dearest steps (long dotted paths, many small objects serialised) cost about 20 ns,
 *   so the limit is worth about 2 ms of CPU.
 * - maxValueDepth 64: JSON documents in prompts are a handful of levels deep; 64 keeps JSON
 *   serialisation far from the stack limit (a deeper value used to overflow the stack and render as
 *   "" silently) and keeps the cycle check (a scan of the ancestors) cheap.
 */
export const DEFAULT_RENDER_BUDGET: Readonly<RenderBudget> = Object.freeze({
  maxOutputChars: 1_000_000,
  maxIterations: 10_000,
  maxSteps: 100_000,
  maxValueDepth: 64,
});

const WHAT: Record<TemplateBudgetReason, (limit: string) => string> = {
  output_size: (limit) => `the rendered text exceeds the output size limit of ${limit} characters`,
  iterations: (limit) => `the template exceeds the limit of ${limit} {{#each}} iterations in total`,
  steps: (limit) =>
    `the template exceeds the limit of ${limit} render steps (text pieces, tags, path segments and serialised values)`,
  value_depth: (limit) => `a variable value is nested deeper than the limit of ${limit} levels`,
};

/** 1000000 → "1,000,000" (no Intl: the engine stays deterministic in every runtime). */
function groupDigits(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * A render stopped because it would exceed one limit of its {@link RenderBudget}. Thrown before the
 * work that would exceed it is done (a loop is charged for its whole list before its first item,
 * text is checked before it is appended, JSON serialisation stops as soon as it is known to be too
 * long), so hitting a limit costs no more than the limit itself.
 */
export class TemplateBudgetError extends Error {
  /** Which limit was hit. */
  readonly reason: TemplateBudgetReason;
  /** The value of that limit in the budget the render ran with. */
  readonly limit: number;
  /** The tag being rendered when the limit was hit, e.g. `{{#each items}}`; undefined for plain text. */
  readonly tag: string | undefined;

  constructor(reason: TemplateBudgetReason, limit: number, tag?: string) {
    const at = tag === undefined ? '' : ` (at ${tag})`;
    super(`Template rendering stopped: ${WHAT[reason](groupDigits(limit))}${at}`);
    this.name = 'TemplateBudgetError';
    this.reason = reason;
    this.limit = limit;
    this.tag = tag;
  }
}

/** The defaults with the given overrides; throws a RangeError for a limit that is not a number ≥ 0. */
export function resolveRenderBudget(overrides: Partial<RenderBudget> | undefined): RenderBudget {
  if (overrides === undefined) return DEFAULT_RENDER_BUDGET;
  const budget: RenderBudget = { ...DEFAULT_RENDER_BUDGET };
  for (const key of Object.keys(DEFAULT_RENDER_BUDGET) as (keyof RenderBudget)[]) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new RangeError(`renderTemplate: budget.${key} must be a number >= 0, got ${String(value)}`);
    }
    budget[key] = value;
  }
  return budget;
}
