import { type Logger, pino } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; secrets are redacted wherever they appear in a logged object. */
export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'headers.authorization',
        'headers["x-api-key"]',
        '*.apiKey',
        '*.secret',
        '*.key',
      ],
      censor: '[redacted]',
    },
  });
}
