import { z } from 'zod';
import { isoInstant } from '../http/zod-primitives.ts';

// Request and response shapes of the analytics routes (/v1/usage, /v1/keys/:id/analytics, /v1/billing).

const date = (description: string) => isoInstant().optional().openapi({ description });

export const rangeQuerySchema = z.object({
  from: date('Start (ISO-8601), rounded down to the hour or UTC day; default `to` − 24 h'),
  to: date('End (ISO-8601, exclusive), rounded up to the hour or UTC day; default now'),
  granularity: z
    .enum(['hour', 'day'])
    .default('hour')
    .openapi({ description: 'Bucket size: at most 90 days of hours, 366 days of days' }),
});

export const usageQuerySchema = rangeQuerySchema.extend({
  groupBy: z
    .enum(['key', 'prompt', 'model'])
    .optional()
    .openapi({ description: 'Also break every bucket down by key, prompt or model' }),
});

export const metricsSchema = z.object({
  requests: z.number().int().openapi({ description: 'Runs that ended (any status)' }),
  errors: z.number().int().openapi({ description: 'Failed runs' }),
  canceled: z.number().int(),
  cacheHits: z.number().int().openapi({ description: 'Runs answered from the identical-request cache' }),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  totalTokens: z.number().int(),
  cost: z.number().openapi({ description: 'USD' }),
  avgLatencyMs: z.number().nullable().openapi({ description: 'Exact mean over the runs; null without runs' }),
  p95LatencyMs: z.number().nullable().openapi({
    description:
      'Approximate (from a fixed-bucket histogram): the upper edge of the bucket holding the 95th percentile, capped by the largest latency — never below the true p95, at most one bucket above it',
  }),
});
export type Metrics = z.infer<typeof metricsSchema>;

export const bucketSchema = metricsSchema.extend({ start: z.string(), end: z.string() });
export type Bucket = z.infer<typeof bucketSchema>;

export const groupSchema = z.object({
  key: z
    .string()
    .nullable()
    .openapi({ description: 'Key id, prompt id or model; null for runs without one' }),
  name: z.string().nullable().openapi({ description: "The key's or prompt's name, or the model" }),
  totals: metricsSchema,
  buckets: z.array(bucketSchema),
});

export const usageReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    granularity: z.enum(['hour', 'day']),
    groupBy: z.enum(['key', 'prompt', 'model']).nullable(),
    totals: metricsSchema,
    buckets: z.array(bucketSchema).openapi({ description: 'Every bucket of the range, zero-filled' }),
    groups: z.array(groupSchema).openapi({ description: 'With groupBy: one zero-filled series per group' }),
  })
  .openapi('UsageReport');

export const keyAnalyticsSchema = z
  .object({
    key: z.object({
      id: z.string(),
      name: z.string(),
      createdAt: z.string(),
      lastUsedAt: z.string().nullable(),
      usageCount: z.number().int().openapi({ description: 'Authenticated requests, all time' }),
    }),
    from: z.string(),
    to: z.string(),
    granularity: z.enum(['hour', 'day']),
    totals: metricsSchema.extend({
      successRate: z.number().nullable().openapi({ description: 'Succeeded runs / runs; null without runs' }),
      errorRate: z.number().nullable().openapi({ description: 'Failed runs / runs; null without runs' }),
    }),
    buckets: z.array(bucketSchema),
  })
  .openapi('KeyAnalytics');

export const billingSchema = z
  .object({
    plan: z.enum(['free', 'pro', 'team', 'enterprise']),
    billingStatus: z.enum(['active', 'past_due', 'disputed', 'canceled']),
    limits: z.object({
      requestsPerMinute: z.number().int(),
      requestsPerDay: z.number().int(),
      tokenBudget: z.number().int().nullable().openapi({ description: 'Monthly; null = none' }),
    }),
    period: z
      .object({ start: z.string(), end: z.string() })
      .openapi({ description: 'The UTC calendar month' }),
    usage: z.object({
      runs: z.number().int(),
      tokensUsed: z.number().int(),
      tokensReserved: z.number().int().openapi({ description: 'Held by runs in flight' }),
      tokensRemaining: z
        .number()
        .int()
        .nullable()
        .openapi({ description: 'Of the budget; null without one' }),
      cost: z.number().openapi({ description: 'USD this period' }),
    }),
  })
  .openapi('Billing');
