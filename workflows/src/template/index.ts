export type { RenderBudget, TemplateBudgetReason } from './budget.ts';
export { DEFAULT_RENDER_BUDGET, TemplateBudgetError } from './budget.ts';
export type {
  EachNode,
  IfNode,
  InsertNode,
  ParsedTemplate,
  ParseOptions,
  TemplateNode,
  TextNode,
  VariablePath,
  VariableRef,
  VariableScope,
} from './parse.ts';
export {
  escapeTemplateText,
  LEGACY_MAX_BLOCK_DEPTH,
  MAX_BLOCK_DEPTH,
  parseTemplate,
  TemplateSyntaxError,
} from './parse.ts';
export { renderTemplate, renderTemplates } from './render.ts';
export type { VariableCheck, VariableSpec } from './variables.ts';
export { applyDefaults, checkVariables, inferVariables } from './variables.ts';
