import { inferVariables, parseTemplate } from '@promptmill/workflows/template';
import { describe, expect, it } from 'vitest';
import { renderVersion } from './compiled-versions.ts';
import { createVersionSchema } from './prompts.schemas.ts';
import { getTemplate, listTemplates, TEMPLATE_LIBRARY } from './template-library.ts';

describe('built-in template library', () => {
  it('has 6–8 templates with unique tpl_ ids', () => {
    expect(TEMPLATE_LIBRARY.length).toBeGreaterThanOrEqual(6);
    expect(TEMPLATE_LIBRARY.length).toBeLessThanOrEqual(8);
    const ids = TEMPLATE_LIBRARY.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^tpl_[a-z_]+$/);
  });

  describe.each(TEMPLATE_LIBRARY.map((t) => [t.id, t] as const))('%s', (_id, template) => {
    it('is a valid version body', () => {
      const parsed = createVersionSchema.safeParse({
        messages: template.messages,
        model: template.suggestedModel,
        params: template.params,
        variables: template.variables,
      });
      expect(parsed.success).toBe(true);
    });

    it('declares exactly the variables its messages use, with the inferred required flags', () => {
      const inferred = inferVariables(template.messages.map((m) => parseTemplate(m.content)));
      const declared = template.variables.map((v) => ({ name: v.name, required: v.required }));
      expect(new Set(declared.map((v) => v.name))).toEqual(new Set(inferred.map((v) => v.name)));
      for (const v of inferred) {
        expect(declared.find((d) => d.name === v.name)?.required, v.name).toBe(v.required);
      }
      for (const v of template.variables) expect(v.description, v.name).toBeTruthy();
    });

    it('renders its example into a complete prompt', () => {
      const messages = renderVersion(
        {
          id: `ver_${template.id}`,
          promptId: 'pmt_x',
          version: 1,
          template: null,
          messages: template.messages,
          model: template.suggestedModel,
          params: template.params,
          fallbackModels: [],
          variables: template.variables,
          cacheTtlSeconds: null,
          commitMessage: null,
          createdAt: new Date(0),
        },
        template.example,
      );
      expect(messages.map((m) => m.role)).toEqual(template.messages.map((m) => m.role));
      for (const m of messages) {
        expect(m.content).not.toContain('{{');
        expect(m.content).not.toMatch(/\[object Object\]|undefined/);
      }
      const required = template.variables.filter((v) => v.required).map((v) => v.name);
      for (const name of required) {
        const value = template.example[name];
        const text = typeof value === 'string' ? value : undefined;
        if (text) expect(messages.some((m) => m.content.includes(text))).toBe(true);
      }
    });
  });

  it('filters by category and paginates', () => {
    const writing = listTemplates({ category: 'writing' }, { page: 1, perPage: 20, offset: 0 });
    expect(writing.data.length).toBeGreaterThan(0);
    expect(writing.data.every((t) => t.category === 'writing')).toBe(true);
    expect(writing.meta.total).toBe(writing.data.length);
    const second = listTemplates({}, { page: 2, perPage: 1, offset: 1 });
    expect(second.data).toEqual([TEMPLATE_LIBRARY[1]]);
    expect(second.meta).toEqual({ page: 2, per_page: 1, total: TEMPLATE_LIBRARY.length });
  });

  it('404s TEMPLATE_NOT_FOUND for an unknown id', () => {
    expect(() => getTemplate('tpl_nope')).toThrow(expect.objectContaining({ code: 'TEMPLATE_NOT_FOUND' }));
  });
});
