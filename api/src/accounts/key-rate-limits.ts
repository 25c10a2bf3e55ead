import { z } from 'zod';

export const keyRateLimitsSchema = z
  .object({
    perMinute: z.number().int().min(1).max(10_000_000).optional(),
    perHour: z.number().int().min(1).max(10_000_000).optional(),
    perDay: z.number().int().min(1).max(100_000_000).optional(),
  })
  .strict();

/**
 * The per-key limits as sent: `perMinute`/`perHour`/`perDay`, or the names the seeds' keys use and the
 * 429 body echoes (`requestsPerMinute`/`requestsPerHour`/`requestsPerDay`); stored under the short names.
 */
export const keyRateLimitsInputSchema = z
  .object({
    ...keyRateLimitsSchema.shape,
    requestsPerMinute: keyRateLimitsSchema.shape.perMinute,
    requestsPerHour: keyRateLimitsSchema.shape.perHour,
    requestsPerDay: keyRateLimitsSchema.shape.perDay,
  })
  .strict()
  .superRefine((v, ctx) => {
    for (const w of ['Minute', 'Hour', 'Day'] as const) {
      if (v[`per${w}`] !== undefined && v[`requestsPer${w}`] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [`requestsPer${w}`],
          message: `give per${w} or requestsPer${w}, not both`,
        });
      }
    }
  })
  .transform(({ requestsPerMinute, requestsPerHour, requestsPerDay, ...v }) => {
    const perMinute = v.perMinute ?? requestsPerMinute;
    const perHour = v.perHour ?? requestsPerHour;
    const perDay = v.perDay ?? requestsPerDay;
    return {
      ...(perMinute !== undefined ? { perMinute } : {}),
      ...(perHour !== undefined ? { perHour } : {}),
      ...(perDay !== undefined ? { perDay } : {}),
    };
  });
