import { z } from 'zod';

/**
 * Behaviour rules for the mock provider (the test-double part).
 *
 * Resolution order for each chat-completion request:
 *  1. Rules, in insertion order: the first rule whose `match` fits the request and whose `times`
 *     budget is not exhausted wins; its budget is decremented.
 *  2. In-band directives found in any message content (`[[mock:fail=500]]`, `[[mock:delay=200]]`,
 *     `[[mock:hang]]`, `[[mock:break=3]]`). They apply on every request containing them.
 *  3. Otherwise the default echo reply.
 */

const MAX_DELAY_MS = 10 * 60 * 1000;

export const mockActionSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('delay'),
    /** wait this long before answering (normally) */
    ms: z.number().int().min(0).max(MAX_DELAY_MS),
    /** for streaming requests: additional wait before each chunk after the first */
    chunkDelayMs: z.number().int().min(0).max(MAX_DELAY_MS).optional(),
  }),
  z.strictObject({
    type: z.literal('fail'),
    status: z.number().int().min(400).max(599),
    retryAfterSeconds: z.number().min(0).optional(),
    message: z.string().optional(),
  }),
  z.strictObject({ type: z.literal('hang') }),
  z.strictObject({ type: z.literal('break-stream'), afterChunks: z.number().int().min(0) }),
  z.strictObject({ type: z.literal('reply'), content: z.string() }),
]);

export const mockMatchSchema = z.strictObject({
  /** exact model name */
  model: z.string().optional(),
  /** substring of any message content */
  contains: z.string().optional(),
});

export const mockRuleSchema = z.strictObject({
  match: mockMatchSchema.optional(),
  /** how many requests this rule applies to; unlimited when absent */
  times: z.number().int().min(1).optional(),
  action: mockActionSchema,
});

export type MockAction = z.infer<typeof mockActionSchema>;
export type MockMatch = z.infer<typeof mockMatchSchema>;
export type MockRule = z.infer<typeof mockRuleSchema>;

/** What the matcher needs to know about a request. */
export interface RequestFacts {
  model: string;
  /** flattened content of every message, in order */
  contents: readonly string[];
}

/** A stored rule as reported by `RuleBook.list()` / `GET /__mock/rules`. */
export interface RuleInfo {
  id: string;
  match?: MockMatch | undefined;
  /** remaining budget; undefined = unlimited */
  remaining?: number | undefined;
  /** how many requests this rule has handled */
  hits: number;
  action: MockAction;
}

/** The behaviour chosen for one request. */
export interface ResolvedBehavior {
  action: MockAction;
  /** set when a rule matched */
  ruleId?: string | undefined;
  /** set when an in-band directive matched, e.g. `fail=500` */
  directive?: string | undefined;
}

export function matches(match: MockMatch | undefined, req: RequestFacts): boolean {
  if (!match) return true;
  if (match.model !== undefined && match.model !== req.model) return false;
  if (match.contains !== undefined) {
    const needle = match.contains;
    if (!req.contents.some((c) => c.includes(needle))) return false;
  }
  return true;
}

interface StoredRule {
  id: string;
  rule: MockRule;
  remaining: number | undefined;
  hits: number;
}

/** Ordered, mutable set of rules. All operations are synchronous, so `take` is atomic. */
export class RuleBook {
  #rules: StoredRule[] = [];
  #seq = 0;

  /** Validates (throws a ZodError on bad input) and appends a rule; returns its id. */
  add(rule: unknown): string {
    const parsed = mockRuleSchema.parse(rule);
    this.#seq += 1;
    const id = `rule_${this.#seq}`;
    this.#rules.push({ id, rule: parsed, remaining: parsed.times, hits: 0 });
    return id;
  }

  remove(id: string): boolean {
    const before = this.#rules.length;
    this.#rules = this.#rules.filter((r) => r.id !== id);
    return this.#rules.length !== before;
  }

  clear(): void {
    this.#rules = [];
  }

  list(): RuleInfo[] {
    return this.#rules.map((r) => ({
      id: r.id,
      match: r.rule.match,
      remaining: r.remaining,
      hits: r.hits,
      action: r.rule.action,
    }));
  }

  /** Finds the first applicable rule and consumes one use of it. */
  take(req: RequestFacts): { ruleId: string; action: MockAction } | undefined {
    for (const r of this.#rules) {
      if (r.remaining !== undefined && r.remaining <= 0) continue;
      if (!matches(r.rule.match, req)) continue;
      if (r.remaining !== undefined) r.remaining -= 1;
      r.hits += 1;
      return { ruleId: r.id, action: r.rule.action };
    }
    return undefined;
  }
}

const DIRECTIVE_RE = /\[\[mock:([a-z-]+)(?:=(\d+))?\]\]/g;

/**
 * Parses the first valid in-band directive found in the given contents:
 * `[[mock:fail=NNN]]` (NNN in 400..599), `[[mock:delay=MS]]`, `[[mock:hang]]`, `[[mock:break=N]]`.
 * Unknown or malformed directives are ignored.
 */
export function parseDirective(
  contents: readonly string[],
): { directive: string; action: MockAction } | undefined {
  for (const content of contents) {
    if (!content.includes('[[mock:')) continue;
    for (const m of content.matchAll(DIRECTIVE_RE)) {
      const name = m[1];
      const arg = m[2] === undefined ? undefined : Number(m[2]);
      const directive = arg === undefined ? `${name}` : `${name}=${arg}`;
      if (name === 'hang' && arg === undefined) return { directive, action: { type: 'hang' } };
      if (arg === undefined) continue;
      if (name === 'fail' && arg >= 400 && arg <= 599) {
        return { directive, action: { type: 'fail', status: arg } };
      }
      if (name === 'delay' && arg <= MAX_DELAY_MS) return { directive, action: { type: 'delay', ms: arg } };
      if (name === 'break') return { directive, action: { type: 'break-stream', afterChunks: arg } };
    }
  }
  return undefined;
}

/** Rules first, then in-band directives; undefined = default behaviour. */
export function resolveBehavior(book: RuleBook, req: RequestFacts): ResolvedBehavior | undefined {
  const fromRule = book.take(req);
  if (fromRule) return { action: fromRule.action, ruleId: fromRule.ruleId };
  const fromDirective = parseDirective(req.contents);
  if (fromDirective) return { action: fromDirective.action, directive: fromDirective.directive };
  return undefined;
}
