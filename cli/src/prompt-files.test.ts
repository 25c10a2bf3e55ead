import { describe, expect, it } from 'vitest';
import { lineDiff } from './output.ts';
import { type PromptFile, parsePromptFile, serializePromptFile } from './prompt-files.ts';

const chat: PromptFile = {
  name: 'support reply/v2',
  description: 'Answers a ticket',
  tags: ['support'],
  labels: ['production'],
  version: {
    messages: [
      { role: 'system', content: 'You are a support agent for {{product|Acme}}.' },
      { role: 'user', content: '{{#if name}}Customer: {{name}}\n{{/if}}Ticket: {{ticket}}\n' },
    ],
    model: 'gpt-4o-mini',
    params: { temperature: 0.3, maxTokens: 400 },
    fallbackModels: ['gpt-4.1-mini'],
    variables: [
      { name: 'product', required: false, default: 'Acme' },
      { name: 'ticket', required: true },
    ],
    cacheTtlSeconds: 300,
  },
};

describe('prompt files', () => {
  it('round-trip chat prompts (trailing newlines included), text prompts and hostile content', () => {
    expect(parsePromptFile(serializePromptFile(chat), 'x')).toEqual(chat);
    const text: PromptFile = {
      ...chat,
      description: '',
      tags: [],
      version: {
        template: '::: user\nnot a role line here\n\n',
        model: 'm',
        params: {},
        fallbackModels: [],
        cacheTtlSeconds: null,
      },
    };
    expect(parsePromptFile(serializePromptFile(text), 'x')).toEqual(text);
    const tricky: PromptFile = {
      ...chat,
      version: { ...chat.version, messages: [{ role: 'user', content: 'a\n::: system\nb' }] },
    };
    const out = serializePromptFile(tricky);
    expect(out).toContain('messages:');
    expect(parsePromptFile(out, 'x')).toEqual(tricky);
  });

  it('reads a hand-written file: role lines, variables as names, no type', () => {
    const file = parsePromptFile(
      '---\nname: hello\nmodel: mock-1\nvariables: [who]\nlabels: [production]\n---\n::: system\nBe brief.\n::: user\nHi {{who}}\n',
      'hello.prompt.md',
    );
    expect(file.version.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi {{who}}' },
    ]);
    expect(file.version.variables).toEqual([{ name: 'who', required: true }]);
  });

  it('names the file and the problem when a file is wrong', () => {
    expect(() => parsePromptFile('no front matter', 'a.prompt.md')).toThrow(/a.prompt.md: no front matter/);
    expect(() => parsePromptFile('---\nname: x\n---\nbody', 'b.prompt.md')).toThrow(/'model' is required/);
    expect(() => parsePromptFile('---\nname: [\n---\n', 'c.prompt.md')).toThrow(/front matter is not YAML/);
    expect(() => parsePromptFile('---\nname: x\nmodel: m\ntype: chat\n---\ntext first\n', 'd')).toThrow(
      /starts with a role line/,
    );
  });
});

describe('lineDiff', () => {
  it('marks removed and added lines with context', () => {
    expect(lineDiff('a\nb\nc\nd\ne\nf\ng', 'a\nb\nc\nD\ne\nf\ng', 1)).toEqual(['…', ' c', '-d', '+D', ' e']);
    expect(lineDiff('', 'x')).toEqual(['-', '+x']);
  });
});
