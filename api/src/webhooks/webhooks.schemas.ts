import { WEBHOOK_EVENTS } from '@promptmill/workflows';
import { z } from 'zod';

// Request and response shapes of /v1/webhooks, validated and documented from here.

const eventsSchema = z
  .array(z.enum(WEBHOOK_EVENTS))
  .min(1, 'subscribe to at least one event')
  .max(WEBHOOK_EVENTS.length)
  .transform((events) => [...new Set(events)])
  .openapi({ description: `Events to receive: ${WEBHOOK_EVENTS.join(', ')}` });

const urlSchema = z
  .string()
  .trim()
  .max(2048)
  .pipe(z.url({ protocol: /^https?$/, message: 'url must be an http(s) URL' }))
  .openapi({
    description:
      'https URL; its host must resolve to public addresses only (http and private addresses only with WEBHOOK_ALLOW_PRIVATE=true)',
  });

export const createEndpointSchema = z
  .object({
    url: urlSchema,
    events: eventsSchema,
    description: z.string().max(500).default(''),
    enabled: z.boolean().default(true),
  })
  .strict()
  .openapi('CreateWebhookEndpoint');

export const patchEndpointSchema = z
  .object({
    url: urlSchema.optional(),
    events: eventsSchema.optional(),
    description: z.string().max(500).optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi('PatchWebhookEndpoint');

export const endpointViewSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z
      .enum(['failing'])
      .nullable()
      .openapi({ description: '`failing`: every delivery failed for 5 days; PATCH enabled:true to resume' }),
    previousSecretExpiresAt: z
      .string()
      .nullable()
      .openapi({ description: 'After a rotation: until when the previous secret also signs' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('WebhookEndpoint');

export const endpointWithSecretSchema = endpointViewSchema
  .extend({ secret: z.string().openapi({ description: '`whsec_…`: shown only here' }) })
  .openapi('WebhookEndpointWithSecret');

export const deliveryViewSchema = z
  .object({
    id: z.string().openapi({ description: '`msg_…`: the `webhook-id` header, the same on every attempt' }),
    endpointId: z.string().nullable(),
    eventId: z.string(),
    event: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed', 'canceled']),
    attemptCount: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    attempts: z.array(
      z.object({
        attempt: z.number().int(),
        status: z.enum(['succeeded', 'failed']),
        responseStatus: z.number().int().nullable(),
        responseBody: z.string().nullable().openapi({ description: 'At most 1 KB of the answer' }),
        latencyMs: z.number().int(),
        error: z.string().nullable(),
        createdAt: z.string(),
      }),
    ),
  })
  .openapi('WebhookDelivery');

export const endpointIdParams = z.object({ id: z.string().min(1).max(100) });
export const messageIdParams = z.object({ msgId: z.string().min(1).max(100) });
