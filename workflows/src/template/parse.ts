/**
 * Prompt template parser.
 *
 * Language:
 *   {{name}}, {{user.name}}, {{ name }}       insert a variable (dotted paths walk nested objects)
 *   {{name|default text}}                      default when the value is undefined or null
 *   {{#if name}}…{{else}}…{{/if}}              conditional ({{else}} optional, nestable)
 *   {{#each list}}…{{this}} {{@index}}…{{/each}} iteration ({{this.field}} for object items)
 *   {{{{                                       literal "{{"
 *   {{{name}}                                  literal "{" followed by the tag {{name}}
 *
 * This module is pure and deterministic (no Date, randomness, I/O or node: imports) so it can be
 * used inside the Temporal workflow sandbox.
 */

/** Where a variable reference reads from. */
export type VariableScope = 'root' | 'this' | 'index';

/**
 * A resolved variable reference.
 * - scope 'root':  `segments` is the full dotted path (`user.name` → ['user', 'name']).
 * - scope 'this':  `segments` is the path below the current `#each` item (`this.a` → ['a']).
 * - scope 'index': `@index` of the innermost `#each`; `segments` is empty.
 */
export interface VariablePath {
  scope: VariableScope;
  /** The reference as written, e.g. `user.name`, `this.title`, `@index`. */
  name: string;
  segments: string[];
}

export interface TextNode {
  type: 'text';
  value: string;
}

export interface InsertNode {
  type: 'insert';
  ref: VariablePath;
  /** Literal default used when the value is undefined or null; undefined when the tag has none. */
  defaultValue: string | undefined;
}

export interface IfNode {
  type: 'if';
  ref: VariablePath;
  consequent: TemplateNode[];
  alternate: TemplateNode[];
}

export interface EachNode {
  type: 'each';
  ref: VariablePath;
  body: TemplateNode[];
}

export type TemplateNode = TextNode | InsertNode | IfNode | EachNode;

export interface VariableRef {
  /** Full dotted name as written (`user.name`). `this…` and `@index` are never listed. */
  name: string;
  hasDefault: boolean;
  defaultValue?: string;
  usedIn: 'insert' | 'if' | 'each';
}

export interface ParsedTemplate {
  nodes: TemplateNode[];
  /** Every root-scope variable reference, in source order (one entry per occurrence). */
  variables: VariableRef[];
}

export class TemplateSyntaxError extends Error {
  /** 1-based line of the offending tag's opening `{{`. */
  line: number;
  /** 1-based column (UTF-16 code units) of the offending tag's opening `{{`. */
  column: number;
  /** The message without the location suffix. */
  reason: string;

  constructor(reason: string, line: number, column: number) {
    super(`${reason} (line ${line}, column ${column})`);
    this.name = 'TemplateSyntaxError';
    this.reason = reason;
    this.line = line;
    this.column = column;
  }
}

/**
 * Maximum nesting depth of `#if` / `#each` blocks in a new template. Hand-written prompt templates
 * nest a few levels (the template library: 2); 32 leaves ample room while keeping the recursion of
 * the parser, the renderer and inferVariables shallow. The work a render does is bounded by its
 * RenderBudget, not by this limit: nesting is what makes loops multiply, and a budget stops that at
 * any depth.
 */
export const MAX_BLOCK_DEPTH = 32;

/**
 * The limit templates were accepted under before MAX_BLOCK_DEPTH was lowered to 32. Stored
 * templates are immutable and were valid when written: parse them with
 * `{ maxBlockDepth: LEGACY_MAX_BLOCK_DEPTH }` so they keep rendering (within the render budget).
 */
export const LEGACY_MAX_BLOCK_DEPTH = 100;

export interface ParseOptions {
  /** Maximum nesting depth of `#if` / `#each` blocks; default MAX_BLOCK_DEPTH. */
  maxBlockDepth?: number;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const WHITESPACE_RE = /\s/;

interface OpenBlock {
  node: IfNode | EachNode;
  /** Offset of the opening tag's `{{`. */
  offset: number;
  /** The opening tag as written, for messages. */
  tag: string;
  inElse: boolean;
}

function locate(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function fail(source: string, offset: number, reason: string): never {
  const { line, column } = locate(source, offset);
  throw new TemplateSyntaxError(reason, line, column);
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Parses a template into an AST plus the list of root variables it references.
 * Throws {@link TemplateSyntaxError} (with the 1-based line/column of the offending tag) on any
 * syntax error, including blocks nested deeper than `options.maxBlockDepth`; never throws anything
 * else for a string input.
 */
export function parseTemplate(source: string, options?: ParseOptions): ParsedTemplate {
  if (typeof source !== 'string') {
    throw new TypeError('parseTemplate: source must be a string');
  }
  const maxBlockDepth = options?.maxBlockDepth ?? MAX_BLOCK_DEPTH;
  const root: TemplateNode[] = [];
  const variables: VariableRef[] = [];
  const stack: OpenBlock[] = [];
  let current = root;
  let eachDepth = 0;
  let text = '';
  let pos = 0;

  const flushText = (): void => {
    if (text !== '') {
      current.push({ type: 'text', value: text });
      text = '';
    }
  };

  const parseRef = (written: string, offset: number): VariablePath => {
    if (written === '@index') {
      if (eachDepth === 0) fail(source, offset, '{{@index}} can only be used inside {{#each}}');
      return { scope: 'index', name: written, segments: [] };
    }
    if (!NAME_RE.test(written)) {
      fail(source, offset, `Invalid variable name "${shorten(written)}"`);
    }
    const segments = written.split('.');
    if (segments[0] === 'this') {
      if (eachDepth === 0) fail(source, offset, `{{${written}}} can only be used inside {{#each}}`);
      return { scope: 'this', name: written, segments: segments.slice(1) };
    }
    return { scope: 'root', name: written, segments };
  };

  for (;;) {
    let open = source.indexOf('{{', pos);
    if (open === -1) {
      text += source.slice(pos);
      break;
    }
    text += source.slice(pos, open);
    if (source.startsWith('{{{{', open)) {
      text += '{{';
      pos = open + 4;
      continue;
    }
    if (source.charCodeAt(open + 2) === 123 /* { */) {
      // Exactly three braces: a literal "{" immediately followed by a tag ("{{{name}}" → "{Ada}").
      text += '{';
      open++;
    }
    const close = source.indexOf('}}', open + 2);
    if (close === -1) {
      fail(
        source,
        open,
        `Unclosed tag "${shorten(source.slice(open, open + 41).split('\n')[0] ?? '')}": missing "}}"`,
      );
    }
    const raw = source.slice(open + 2, close);
    if (raw.includes('{{')) {
      fail(
        source,
        open,
        `Unclosed tag "${shorten(`{{${raw.slice(0, raw.indexOf('{{'))}`.trimEnd())}": missing "}}"`,
      );
    }
    pos = close + 2;
    const content = raw.trim();

    if (content === '') fail(source, open, 'Empty tag "{{}}"');

    const first = content.charCodeAt(0);
    if (first === 35 /* # */) {
      const body = content.slice(1).trimStart();
      const ws = body.search(WHITESPACE_RE);
      const keyword = ws === -1 ? body : body.slice(0, ws);
      const arg = ws === -1 ? '' : body.slice(ws).trim();
      if (keyword !== 'if' && keyword !== 'each') {
        fail(source, open, `Unknown block "{{#${shorten(keyword)}}}" (expected #if or #each)`);
      }
      if (arg === '') fail(source, open, `{{#${keyword}}} requires a variable name`);
      if (stack.length >= maxBlockDepth) {
        fail(source, open, `Blocks nested more than ${maxBlockDepth} levels deep`);
      }
      const ref = parseRef(arg, open);
      flushText();
      let node: IfNode | EachNode;
      if (keyword === 'if') {
        node = { type: 'if', ref, consequent: [], alternate: [] };
        current.push(node);
        current = node.consequent;
      } else {
        node = { type: 'each', ref, body: [] };
        current.push(node);
        current = node.body;
        eachDepth++;
      }
      if (ref.scope === 'root') variables.push({ name: ref.name, hasDefault: false, usedIn: keyword });
      stack.push({ node, offset: open, tag: `{{#${keyword} ${arg}}}`, inElse: false });
      continue;
    }

    if (first === 47 /* / */) {
      const keyword = content.slice(1).trim();
      if (keyword !== 'if' && keyword !== 'each') {
        fail(source, open, `Unknown closing tag "{{/${shorten(keyword)}}}" (expected /if or /each)`);
      }
      const top = stack[stack.length - 1];
      if (top === undefined) fail(source, open, `Unmatched {{/${keyword}}}: no open {{#${keyword}}} block`);
      if (top.node.type !== keyword) {
        const at = locate(source, top.offset);
        fail(
          source,
          open,
          `{{/${keyword}}} cannot close ${top.tag} (opened at line ${at.line}, column ${at.column}); expected {{/${top.node.type}}}`,
        );
      }
      flushText();
      stack.pop();
      if (top.node.type === 'each') eachDepth--;
      const parent = stack[stack.length - 1];
      if (parent === undefined) {
        current = root;
      } else if (parent.node.type === 'if') {
        current = parent.inElse ? parent.node.alternate : parent.node.consequent;
      } else {
        current = parent.node.body;
      }
      continue;
    }

    if (content === 'else') {
      const top = stack[stack.length - 1];
      if (top === undefined) fail(source, open, '{{else}} outside of an {{#if}} block');
      if (top.node.type !== 'if') fail(source, open, `{{else}} is not allowed directly inside ${top.tag}`);
      if (top.inElse) fail(source, open, `Duplicate {{else}} in ${top.tag}`);
      flushText();
      top.inElse = true;
      current = top.node.alternate;
      continue;
    }

    const pipe = content.indexOf('|');
    const written = pipe === -1 ? content : content.slice(0, pipe).trim();
    const defaultValue = pipe === -1 ? undefined : content.slice(pipe + 1).trim();
    if (written === '') fail(source, open, `Missing variable name in "{{${shorten(content)}}}"`);
    const ref = parseRef(written, open);
    flushText();
    current.push({ type: 'insert', ref, defaultValue });
    if (ref.scope === 'root') {
      variables.push(
        defaultValue === undefined
          ? { name: ref.name, hasDefault: false, usedIn: 'insert' }
          : { name: ref.name, hasDefault: true, defaultValue, usedIn: 'insert' },
      );
    }
  }

  const unclosed = stack[stack.length - 1];
  if (unclosed !== undefined) {
    fail(source, unclosed.offset, `Unclosed ${unclosed.tag}: missing {{/${unclosed.node.type}}}`);
  }
  flushText();
  return { nodes: root, variables };
}

/**
 * Escapes literal text so that it renders verbatim: every "{{" becomes "{{{{".
 * `renderTemplate(parseTemplate(escapeTemplateText(s)), {}) === s` for every string s.
 */
export function escapeTemplateText(text: string): string {
  return text.replaceAll('{{', '{{{{');
}
