import { z } from 'zod';

/** Env fragments shared by the api and the worker (each still owns its env.ts). */
export const booleanFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const temporalEnvSchema = z.object({
  /** host:port of the Temporal frontend. */
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  /** Temporal namespace of the runs. */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue the api starts runs on and the worker polls. */
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('promptmill-runs'),
  /** Temporal Cloud API key (implies TLS). */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /** Connect to Temporal over TLS. */
  TEMPORAL_TLS: booleanFromEnv.default(false),
});
export type TemporalEnv = z.infer<typeof temporalEnvSchema>;

/**
 * A secret of at least `minLength` characters. An empty value is refused with a message of its own
 * instead of passing for "unset": compose's `${VAR:-}` hands over empty strings, and reading one as
 * unset would quietly turn a feature off or make a per-process secret. `unset` says what leaving the
 * variable out does.
 */
export function secretFromEnv(name: string, minLength: number, unset: string) {
  return z.string().superRefine((value, ctx) => {
    if (value === '') {
      ctx.addIssue({
        code: 'custom',
        message: `${name} is set but empty: give it a value${minLength > 1 ? ` of at least ${minLength} characters` : ''}, or leave it out (${unset})`,
      });
    } else if (value.length < minLength) {
      ctx.addIssue({ code: 'custom', message: `${name} must be at least ${minLength} characters` });
    }
  });
}

export const webhookEnvSchema = z.object({
  /** Let webhook URLs reach loopback, private, link-local and other non-public addresses, and plain http (local setups and tests only). */
  WEBHOOK_ALLOW_PRIVATE: booleanFromEnv.default(false),
  /** Svix API token: webhook messages to endpoints go through Svix (one application per organization) instead of the built-in delivery. */
  SVIX_TOKEN: secretFromEnv('SVIX_TOKEN', 8, 'webhooks are delivered by the built-in workflow').optional(),
  /** Base URL of a self-hosted Svix server (with SVIX_TOKEN); unset = Svix's hosted API for the token's region. */
  SVIX_SERVER_URL: z.string().url().optional(),
});

export const logLevelSchema = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');

/** Parses process.env with a schema; on failure prints every bad variable and exits (fail fast). */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  source: NodeJS.ProcessEnv,
  service: string,
): z.infer<S> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new EnvError(`${service}: invalid environment\n${lines.join('\n')}`);
}

export class EnvError extends Error {
  override name = 'EnvError';
}

export function temporalConnectionOptions(env: TemporalEnv): {
  address: string;
  tls?: boolean;
  apiKey?: string;
} {
  return {
    address: env.TEMPORAL_ADDRESS,
    ...(env.TEMPORAL_TLS || env.TEMPORAL_API_KEY ? { tls: true } : {}),
    ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
  };
}
