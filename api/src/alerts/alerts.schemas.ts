import { z } from 'zod';

// Request and response shapes of /v1/alerts.

const common = {
  name: z.string().trim().max(200).optional().openapi({ description: 'Shown in the usage.alert event' }),
  enabled: z.boolean().default(true),
};

const usageThreshold = z.object({
  type: z.literal('usage_threshold'),
  ...common,
  thresholdPercent: z.number().gt(0).max(1000).default(80).openapi({
    description:
      'Percent of the tightest limit: the daily request limit (plan or override), the key’s perDay, the monthly token budget',
  }),
  keyId: z.string().min(1).max(100).optional().openapi({ description: "Also this key's own daily limit" }),
});

const errorRate = z.object({
  type: z.literal('error_rate'),
  ...common,
  thresholdPercent: z
    .number()
    .gt(0)
    .max(100)
    .default(5)
    .openapi({ description: 'Percent of runs that failed' }),
  windowMinutes: z.number().int().min(1).max(1440).default(15),
  minRequests: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(20)
    .openapi({ description: 'Fewer runs in the window never fire' }),
});

const costThreshold = z.object({
  type: z.literal('cost_threshold'),
  ...common,
  amountUsd: z.number().gt(0).max(1e12).openapi({ description: 'USD per UTC day' }),
});

export const createAlertSchema = z
  .discriminatedUnion('type', [usageThreshold, errorRate, costThreshold])
  .openapi('CreateAlertBody');
export type CreateAlert = z.infer<typeof createAlertSchema>;

export const patchAlertSchema = z
  .object({ enabled: z.boolean().optional(), name: z.string().trim().max(200).optional() })
  .strict()
  .openapi('PatchAlertBody');

export const alertSchema = z
  .object({
    id: z.string(),
    type: z.enum(['usage_threshold', 'error_rate', 'cost_threshold']),
    name: z.string(),
    enabled: z.boolean(),
    thresholdPercent: z.number().nullable(),
    windowMinutes: z.number().int().nullable(),
    minRequests: z.number().int().nullable(),
    amountUsd: z.number().nullable(),
    keyId: z.string().nullable(),
    state: z.enum(['ok', 'firing', 'disabled']).openapi({
      description:
        'As of the last evaluation (every minute); `disabled` rules are not evaluated and never fire',
    }),
    lastValue: z.number().nullable().openapi({ description: 'Percent, or USD for cost_threshold' }),
    lastEvaluatedAt: z.string().nullable(),
    lastFiredAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('Alert');
export type AlertView = z.infer<typeof alertSchema>;
