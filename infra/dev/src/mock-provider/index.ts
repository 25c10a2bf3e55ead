export {
  type MockAction,
  type MockMatch,
  type MockRule,
  matches,
  mockActionSchema,
  mockMatchSchema,
  mockRuleSchema,
  parseDirective,
  type RequestFacts,
  type ResolvedBehavior,
  RuleBook,
  type RuleInfo,
  resolveBehavior,
} from './behaviors.ts';
export { type MockControl, mockControl } from './client.ts';
export {
  type CallFilter,
  DEFAULT_MAX_CALLS,
  MOCK_MODEL_IDS,
  type MockCall,
  type MockProvider,
  type MockProviderOptions,
  startMockProvider,
} from './server.ts';
export {
  type ContentPart,
  computeUsage,
  contentToText,
  countPromptTokens,
  countWords,
  MESSAGE_OVERHEAD_TOKENS,
  splitWordChunks,
  type TokenUsage,
  truncateWords,
} from './tokens.ts';
