import type { VersionRow } from '@promptmill/infra/db';
import type { ChatMessage } from '@promptmill/workflows';
import {
  applyDefaults,
  checkVariables,
  LEGACY_MAX_BLOCK_DEPTH,
  type ParsedTemplate,
  parseTemplate,
  renderTemplates,
  TemplateBudgetError,
  type VariableSpec,
} from '@promptmill/workflows/template';
import { AppError } from '../http/app-error.ts';

interface CompiledVersion {
  parts: { role: ChatMessage['role']; parsed: ParsedTemplate }[];
  variables: VariableSpec[];
}

const MAX_ENTRIES = 2000;
// Versions are immutable, so a parsed version never goes stale: a bounded map is the whole cache.
const cache = new Map<string, CompiledVersion>();

function compile(version: VersionRow): CompiledVersion {
  const sources: { role: ChatMessage['role']; content: string }[] = version.messages ?? [
    { role: 'user', content: version.template ?? '' },
  ];
  // stored versions were valid when created: those from before the 32-level limit keep running
  const options = { maxBlockDepth: LEGACY_MAX_BLOCK_DEPTH };
  return {
    parts: sources.map((m) => ({ role: m.role, parsed: parseTemplate(m.content, options) })),
    variables: version.variables,
  };
}

function compiled(version: VersionRow): CompiledVersion {
  let entry = cache.get(version.id);
  if (!entry) {
    entry = compile(version);
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
    cache.set(version.id, entry);
  }
  return entry;
}

/**
 * Checks the variables against the version's contract and renders its messages. One 400 names every
 * offending variable: MISSING_VARIABLES when any required one is absent (its details also list the
 * unknown ones, so one round trip fixes everything), otherwise UNKNOWN_VARIABLES.
 */
export function renderVersion(version: VersionRow, provided: Record<string, unknown>): ChatMessage[] {
  const entry = compiled(version);
  const { missing, unknown } = checkVariables(entry.variables, provided);
  if (missing.length > 0 || unknown.length > 0) {
    const details = [
      ...missing.map((name) => ({ field: `variables.${name}`, message: 'Required variable is missing' })),
      ...unknown.map((name) => ({
        field: `variables.${name}`,
        message: 'Variable is not declared by this version',
      })),
    ];
    if (missing.length > 0) {
      const also = unknown.length > 0 ? `; unknown variables: ${unknown.join(', ')}` : '';
      throw new AppError('MISSING_VARIABLES', `Missing required variables: ${missing.join(', ')}${also}`, {
        details,
      });
    }
    throw new AppError('UNKNOWN_VARIABLES', `Unknown variables: ${unknown.join(', ')}`, { details });
  }
  const values = applyDefaults(entry.variables, provided);
  let contents: string[];
  try {
    // one budget for the whole prompt: its messages together
    contents = renderTemplates(
      entry.parts.map((p) => p.parsed),
      values,
    );
  } catch (err) {
    if (err instanceof TemplateBudgetError) throw budgetExceeded(err);
    throw err;
  }
  return entry.parts.map((p, i) => ({ role: p.role, content: contents[i] ?? '' }));
}

/**
 * The render budget (DEFAULT_RENDER_BUDGET) keeps one render to a few milliseconds of the event
 * loop. Too much output is 413 PROMPT_TOO_LARGE, the code a run's payload limit uses too; too much
 * work (iterations, steps, value depth) is 400 TEMPLATE_BUDGET_EXCEEDED.
 */
function budgetExceeded(err: TemplateBudgetError): AppError {
  const code = err.reason === 'output_size' ? 'PROMPT_TOO_LARGE' : 'TEMPLATE_BUDGET_EXCEEDED';
  return new AppError(code, err.message, {
    details: [
      {
        field: 'variables',
        message: err.message,
        reason: err.reason,
        limit: err.limit,
        ...(err.tag === undefined ? {} : { tag: err.tag }),
      },
    ],
  });
}
