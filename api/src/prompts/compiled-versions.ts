import type { VersionRow } from '@promptmill/infra/db';
import type { ChatMessage } from '@promptmill/workflows';
import {
  applyDefaults,
  checkVariables,
  type ParsedTemplate,
  parseTemplate,
  renderTemplate,
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
  return {
    parts: sources.map((m) => ({ role: m.role, parsed: parseTemplate(m.content) })),
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
  return entry.parts.map((p) => ({ role: p.role, content: renderTemplate(p.parsed, values) }));
}
