// Compile-time check (`tsc -p tsconfig.json`, part of npm test) that the SDK's hand-written types are
// the api's own: each pair must be assignable both ways, so a field added, removed, renamed or retyped
// in an api zod schema fails the typecheck until the SDK follows. (The SDK package cannot import zod or
// the api; this file can.) Method + path drift is checked against the served OpenAPI document by
// test/e2e/sdk-contract.test.ts.
import type { z } from 'zod';
import type { createKeySchema, keyViewSchema, patchKeySchema } from '../../api/src/accounts/keys.ts';
import type { meSchema } from '../../api/src/accounts/me.ts';
import type { addMemberSchema, memberViewSchema } from '../../api/src/accounts/members.ts';
import type {
  alertSchema,
  createAlertSchema,
  patchAlertSchema,
} from '../../api/src/alerts/alerts.schemas.ts';
import type {
  chainBodySchema,
  chainRunSchema,
  chainSchema,
  startChainRunBodySchema,
} from '../../api/src/chains/chains.schemas.ts';
import type {
  createPromptSchema,
  createVersionSchema,
  labelSchemaOut,
  patchPromptSchema,
  promptSchema,
  renderBodySchema,
  renderResultSchema,
  versionSchema,
} from '../../api/src/prompts/prompts.schemas.ts';
import type { templateSchema, useTemplateBodySchema } from '../../api/src/prompts/template-library.ts';
import type {
  createRunBodySchema,
  runSchema,
  syncRunResponseSchema,
} from '../../api/src/runs/runs.schemas.ts';
import type {
  billingSchema,
  keyAnalyticsSchema,
  usageQuerySchema,
  usageReportSchema,
} from '../../api/src/usage/usage.schemas.ts';
import type {
  createEndpointSchema,
  deliveryViewSchema,
  endpointViewSchema,
  endpointWithSecretSchema,
  patchEndpointSchema,
} from '../../api/src/webhooks/webhooks.schemas.ts';
import type * as Sdk from '../../sdk/src/index.ts';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** the SDK may accept a request body only if the api's schema accepts it, and must accept all it does */
type SameInput<S extends z.ZodType, T> = Same<z.input<S>, T>;
type Out<S extends z.ZodType> = z.output<S>;

export const responseShapes: [
  Same<Sdk.Prompt, Out<typeof promptSchema>>,
  Same<Sdk.PromptVersion, Out<typeof versionSchema>>,
  Same<Sdk.PromptLabel, Out<typeof labelSchemaOut>>,
  Same<Sdk.RenderedPrompt, Out<typeof renderResultSchema>>,
  Same<Sdk.Template, Out<typeof templateSchema>>,
  Same<Sdk.Run, Out<typeof runSchema>>,
  Same<Sdk.SyncRunResult, Out<typeof syncRunResponseSchema>>,
  Same<Sdk.ApiKey, Out<typeof keyViewSchema>>,
  Same<Sdk.Member, Out<typeof memberViewSchema>>,
  Same<Sdk.Me, Out<typeof meSchema>>,
  Same<Sdk.UsageReport, Out<typeof usageReportSchema>>,
  Same<Sdk.KeyAnalytics, Out<typeof keyAnalyticsSchema>>,
  Same<Sdk.Billing, Out<typeof billingSchema>>,
  Same<Sdk.Alert, Out<typeof alertSchema>>,
  Same<Sdk.Workflow, Out<typeof chainSchema>>,
  Same<Sdk.WorkflowRun, Out<typeof chainRunSchema>>,
  Same<Sdk.WebhookEndpoint, Out<typeof endpointViewSchema>>,
  Same<Sdk.WebhookEndpointWithSecret, Out<typeof endpointWithSecretSchema>>,
  Same<Sdk.WebhookDelivery, Out<typeof deliveryViewSchema>>,
] = [
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
];

export const requestShapes: [
  SameInput<typeof createPromptSchema, Sdk.CreatePromptParams>,
  SameInput<typeof patchPromptSchema, Sdk.UpdatePromptParams>,
  SameInput<typeof createVersionSchema, Sdk.CreateVersionParams>,
  SameInput<typeof renderBodySchema, Sdk.RenderParams>,
  SameInput<typeof useTemplateBodySchema, Sdk.UseTemplateParams>,
  SameInput<typeof createRunBodySchema, Sdk.StartRunParams>,
  SameInput<typeof createKeySchema, Sdk.CreateKeyParams>,
  SameInput<typeof patchKeySchema, Sdk.UpdateKeyParams>,
  SameInput<typeof addMemberSchema, Sdk.AddMemberParams>,
  SameInput<typeof createAlertSchema, Sdk.AlertParams>,
  SameInput<typeof patchAlertSchema, Sdk.UpdateAlertParams>,
  SameInput<typeof chainBodySchema, Sdk.WorkflowParams>,
  SameInput<typeof startChainRunBodySchema, Sdk.StartWorkflowRunParams>,
  SameInput<typeof createEndpointSchema, Sdk.WebhookParams>,
  SameInput<typeof patchEndpointSchema, Sdk.UpdateWebhookParams>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];

/** query strings: the SDK sends dates as ISO strings, which the api's schema takes */
export const queryShapes: [Same<keyof z.input<typeof usageQuerySchema>, keyof Sdk.UsageQuery>] = [true];
