import { parseTemplate } from '@promptmill/workflows/template';
import { describe, expect, it } from 'vitest';
import { AppError } from '../http/app-error.ts';
import { createVersionSchema, LABEL_PATTERN, renderBodySchema } from './prompts.schemas.ts';
import { versionContract } from './versions.ts';

const parsed = [parseTemplate('Hi {{name}}, {{greeting|hello}}{{#if vip}}!{{/if}}')];

function contractError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

describe('versionContract', () => {
  it('infers the contract when none is given', () => {
    expect(versionContract(parsed)).toEqual([
      { name: 'name', required: true },
      { name: 'greeting', required: false, default: 'hello' },
      { name: 'vip', required: false },
    ]);
  });

  it('keeps an explicit contract that declares every used variable, plus unused ones', () => {
    const declared = [
      { name: 'name', required: true, description: 'Who' },
      { name: 'greeting', required: false },
      { name: 'vip', required: false },
      { name: 'future', required: false },
    ];
    expect(versionContract(parsed, declared)).toBe(declared);
  });

  it('rejects a contract that misses variables the template uses, naming each', () => {
    const err = contractError(() => versionContract(parsed, [{ name: 'name', required: true }]));
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.message).toBe('Variables used by the template but not declared: greeting, vip');
    expect(err.details).toEqual([
      {
        field: 'variables',
        message: "The template uses 'greeting', which the variables contract does not declare",
      },
      {
        field: 'variables',
        message: "The template uses 'vip', which the variables contract does not declare",
      },
    ]);
  });

  it('rejects duplicate declarations', () => {
    const err = contractError(() =>
      versionContract(parsed, [
        { name: 'name', required: true },
        { name: 'greeting', required: false },
        { name: 'vip', required: false },
        { name: 'name', required: false },
      ]),
    );
    expect(err.details).toEqual([
      { field: 'variables.3.name', message: "Variable 'name' is declared twice" },
    ]);
  });
});

describe('schemas', () => {
  it('accepts label names like production, staging-2, v1_rc and refuses others', () => {
    for (const ok of ['production', 'staging-2', 'v1_rc', '0', 'a'.repeat(50)])
      expect(LABEL_PATTERN.test(ok)).toBe(true);
    for (const bad of ['', 'Production', '-x', '_x', 'a b', 'a'.repeat(51), 'é'])
      expect(LABEL_PATTERN.test(bad)).toBe(false);
  });

  it('version bodies need exactly one of template or messages, and valid params', () => {
    expect(createVersionSchema.safeParse({ model: 'm' }).success).toBe(false);
    expect(
      createVersionSchema.safeParse({ model: 'm', template: 'x', messages: [{ role: 'user', content: 'x' }] })
        .success,
    ).toBe(false);
    const bad = createVersionSchema.safeParse({
      model: 'm',
      template: 'x',
      params: { temperature: 2.5, topP: -1 },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'params.temperature',
      'params.topP',
    ]);
  });

  it('render bodies take version or label, not both', () => {
    expect(renderBodySchema.safeParse({ version: 1, label: 'production' }).success).toBe(false);
    expect(renderBodySchema.parse({ label: 'staging' })).toEqual({ label: 'staging', variables: {} });
  });
});
