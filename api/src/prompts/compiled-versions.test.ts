import type { VersionRow } from '@promptmill/infra/db';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../http/app-error.ts';
import { renderVersion } from './compiled-versions.ts';

let seq = 0;
function version(over: Partial<VersionRow>): VersionRow {
  seq++;
  return {
    id: `ver_test_${seq}`,
    promptId: 'pmt_test',
    version: 1,
    template: null,
    messages: null,
    model: 'mock-1',
    params: {},
    fallbackModels: [],
    variables: [],
    cacheTtlSeconds: null,
    commitMessage: null,
    createdAt: new Date(0),
    ...over,
  };
}

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

const chat = version({
  messages: [
    { role: 'system', content: 'You help {{company}}.' },
    { role: 'user', content: '{{question}} ({{lang|en}})' },
    { role: 'assistant', content: 'Noted.' },
  ],
  variables: [
    { name: 'company', required: true },
    { name: 'question', required: true },
    { name: 'lang', required: false },
  ],
});

describe('renderVersion', () => {
  it('renders every message of a chat version with its role', () => {
    expect(renderVersion(chat, { company: 'Acme', question: 'Why?' })).toEqual([
      { role: 'system', content: 'You help Acme.' },
      { role: 'user', content: 'Why? (en)' },
      { role: 'assistant', content: 'Noted.' },
    ]);
  });

  it('renders a text version as one user message', () => {
    const text = version({ template: 'Hi {{name}}', variables: [{ name: 'name', required: true }] });
    expect(renderVersion(text, { name: 'Ada' })).toEqual([{ role: 'user', content: 'Hi Ada' }]);
  });

  it('applies contract defaults', () => {
    const text = version({
      template: '[{{tone}}]',
      variables: [{ name: 'tone', required: false, default: 'calm' }],
    });
    expect(renderVersion(text, {})).toEqual([{ role: 'user', content: '[calm]' }]);
  });

  it('names every missing variable, and the unknown ones too, in one MISSING_VARIABLES error', () => {
    const err = errorOf(() => renderVersion(chat, { extra: 1, other: 'x' }));
    expect(err.code).toBe('MISSING_VARIABLES');
    expect(err.status).toBe(400);
    expect(err.message).toBe(
      'Missing required variables: company, question; unknown variables: extra, other',
    );
    expect(err.details).toEqual([
      { field: 'variables.company', message: 'Required variable is missing' },
      { field: 'variables.question', message: 'Required variable is missing' },
      { field: 'variables.extra', message: 'Variable is not declared by this version' },
      { field: 'variables.other', message: 'Variable is not declared by this version' },
    ]);
  });

  it('UNKNOWN_VARIABLES lists every unknown name when nothing is missing', () => {
    const err = errorOf(() => renderVersion(chat, { company: 'a', question: 'b', x: 1, y: 2 }));
    expect(err.code).toBe('UNKNOWN_VARIABLES');
    expect(err.message).toBe('Unknown variables: x, y');
    expect(err.details?.map((d) => d.field)).toEqual(['variables.x', 'variables.y']);
  });
});

describe('renderVersion within the render budget', () => {
  const list = Array.from({ length: 40 }, (_, i) => i);
  const nested = (depth: number) => `${'{{#each a}}'.repeat(depth)}x${'{{/each}}'.repeat(depth)}`;

  it('four nested loops over 40 items: 400 TEMPLATE_BUDGET_EXCEEDED at once, naming reason, limit and tag', () => {
    const v = version({ template: nested(4), variables: [{ name: 'a', required: true }] });
    const t0 = performance.now();
    const err = errorOf(() => renderVersion(v, { a: list }));
    expect(performance.now() - t0).toBeLessThan(50);
    expect(err).toMatchObject({ code: 'TEMPLATE_BUDGET_EXCEEDED', status: 400 });
    expect(err.message).toMatch(/10,000 \{\{#each\}\} iterations/);
    expect(err.details).toEqual([
      {
        field: 'variables',
        message: err.message,
        reason: 'iterations',
        limit: 10_000,
        tag: '{{#each a}}',
      },
    ]);
  });

  it('a render over the output limit is 413 PROMPT_TOO_LARGE', () => {
    const v = version({ template: '{{s}}'.repeat(600), variables: [{ name: 's', required: true }] });
    const err = errorOf(() => renderVersion(v, { s: 'y'.repeat(2_000) }));
    expect(err).toMatchObject({ code: 'PROMPT_TOO_LARGE', status: 413 });
    expect(err.details?.[0]).toMatchObject({ field: 'variables', reason: 'output_size', limit: 1_000_000 });
  });

  it('one budget for the whole prompt: messages that each fit but together do not are refused', () => {
    const v = version({
      messages: [
        { role: 'system', content: '{{s}}' },
        { role: 'user', content: '{{s}}' },
      ],
      variables: [{ name: 's', required: true }],
    });
    expect(renderVersion(v, { s: 'y'.repeat(400_000) }).map((m) => m.content.length)).toEqual([
      400_000, 400_000,
    ]);
    expect(errorOf(() => renderVersion(v, { s: 'y'.repeat(600_000) })).code).toBe('PROMPT_TOO_LARGE');
  });

  it('versions stored before the 32-level nesting limit still render (parsed with the legacy limit)', () => {
    const deep = `${'{{#if a}}'.repeat(40)}deep{{a}}${'{{/if}}'.repeat(40)}`;
    const v = version({ template: deep, variables: [{ name: 'a', required: true }] });
    expect(renderVersion(v, { a: 'yes' })).toEqual([{ role: 'user', content: 'deepyes' }]);
  });
});

describe('property: renderVersion on arbitrary values', () => {
  const anyValue = fc.anything({
    maxDepth: 3,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withNullPrototype: true,
  });
  const braces = fc.string({
    unit: fc.constantFrom('{{', '}}', '{{{{', '{{#if company}}', '{{/if}}', '{{question}}', 'x', ' '),
    maxLength: 20,
  });

  it('never throws anything but the variables errors, and always returns strings', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('company', 'question', 'lang', 'zzz'), anyValue), (vars) => {
        try {
          const out = renderVersion(chat, vars);
          expect(out.every((m) => typeof m.content === 'string')).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(AppError);
          expect(['MISSING_VARIABLES', 'UNKNOWN_VARIABLES']).toContain((err as AppError).code);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('values that look like template syntax come out literally in every message', () => {
    fc.assert(
      fc.property(braces, braces, (company, question) => {
        const [system, user] = renderVersion(chat, { company, question });
        expect(system?.content).toBe(`You help ${company}.`);
        expect(user?.content).toBe(`${question} (en)`);
      }),
      { numRuns: 300 },
    );
  });
});
