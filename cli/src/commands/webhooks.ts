// `promptmill webhooks list|create|delete|test|deliveries`: webhook endpoints and their delivery log.
import type { Promptmill, WebhookDelivery, WebhookEventType } from '@promptmill/sdk';
import { UsageError } from '../cli-error.ts';
import { type Command, client, int, list, str } from '../command.ts';
import { type Io, printJson, printTable } from '../output.ts';

async function listWebhooks(pm: Promptmill, io: Io, json: boolean) {
  const endpoints = [];
  for (let page = 1; ; page++) {
    const r = await pm.webhooks.list({ page, perPage: 100 });
    endpoints.push(...r.data);
    if (r.data.length === 0 || page * r.meta.per_page >= r.meta.total) break;
  }
  if (json) return printJson(io, endpoints);
  printTable(
    io,
    ['ID', 'URL', 'EVENTS', 'ENABLED', 'CREATED'],
    endpoints.map((e) => [
      e.id,
      e.url,
      e.events.join(','),
      e.enabled ? 'yes' : `no${e.disabledReason ? ` (${e.disabledReason})` : ''}`,
      e.createdAt,
    ]),
  );
}

function printDeliveries(io: Io, deliveries: WebhookDelivery[]) {
  printTable(
    io,
    ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST RESPONSE', 'NEXT ATTEMPT', 'CREATED'],
    deliveries.map((d) => {
      const last = d.attempts.at(-1);
      const answer = last ? (last.responseStatus ?? last.error ?? '-') : '-';
      return [d.id, d.event, d.status, d.attemptCount, answer, d.nextAttemptAt ?? '-', d.createdAt];
    }),
  );
}

export const WEBHOOK_COMMANDS: Record<string, Command> = {
  'webhooks list': {
    usage: 'promptmill webhooks list',
    summary: "list the organization's webhook endpoints",
    help: 'Id, URL, subscribed events, whether enabled (and why not), creation time.',
    options: {},
    positionals: [0, 0],
    run: async ({ values, io }) => listWebhooks(await client(values, io), io, Boolean(values.json)),
  },
  'webhooks create': {
    usage: 'promptmill webhooks create --url URL --event EVENT… [--description TEXT] [--disabled]',
    summary: 'add a webhook endpoint (its signing secret is printed once)',
    help: `Events: prompt.executed, prompt.failed, workflow.completed, workflow.failed, team.member_added,
team.member_removed, usage.alert, webhook.endpoint_disabled. The secret (whsec_…) goes to standard output;
verify deliveries with it (the SDK's verifyWebhook).`,
    options: {
      url: { type: 'string' },
      event: { type: 'string', multiple: true, short: 'e' },
      description: { type: 'string' },
      disabled: { type: 'boolean' },
    },
    positionals: [0, 0],
    run: async ({ values, io }) => {
      const url = str(values.url);
      if (!url) throw new UsageError('--url is required');
      const events = list(values.event);
      if (events.length === 0) throw new UsageError('--event is required (repeat it for more events)');
      const endpoint = await (await client(values, io)).webhooks.create({
        url,
        events: events as WebhookEventType[],
        ...(str(values.description) !== undefined ? { description: str(values.description)! } : {}),
        ...(values.disabled ? { enabled: false } : {}),
      });
      if (values.json) return printJson(io, endpoint);
      io.stdout.write(`${endpoint.secret}\n`);
      io.stderr.write(`created ${endpoint.id} (${endpoint.url}); the secret above is shown once\n`);
    },
  },
  'webhooks delete': {
    usage: 'promptmill webhooks delete ENDPOINT_ID',
    summary: 'delete a webhook endpoint',
    help: 'Deletes the endpoint; deliveries not yet sent to it are canceled.',
    options: {},
    positionals: [1, 1],
    run: async ({ values, positionals, io }) => {
      const endpoint = await (await client(values, io)).webhooks.delete(positionals[0]!);
      if (values.json) return printJson(io, endpoint);
      io.stderr.write(`deleted ${endpoint.id} (${endpoint.url})\n`);
    },
  },
  'webhooks test': {
    usage: 'promptmill webhooks test ENDPOINT_ID',
    summary: 'send a webhook.test event to an endpoint',
    help: "Queues a signed webhook.test delivery and prints its id (msg_…); see it with 'webhooks deliveries'.",
    options: {},
    positionals: [1, 1],
    run: async ({ values, positionals, io }) => {
      const delivery = await (await client(values, io)).webhooks.test(positionals[0]!);
      if (values.json) return printJson(io, delivery);
      io.stdout.write(`${delivery.id}\n`);
      io.stderr.write(`queued ${delivery.event} to ${positionals[0]} (${delivery.status})\n`);
    },
  },
  'webhooks deliveries': {
    usage: 'promptmill webhooks deliveries ENDPOINT_ID [--limit N]',
    summary: "an endpoint's recent deliveries and their attempts",
    help: 'The newest --limit (20, at most 100) deliveries: status, attempts, the last answer, the next retry.',
    options: { limit: { type: 'string', default: '20' } },
    positionals: [1, 1],
    run: async ({ values, positionals, io }) => {
      const limit = int(values.limit, 'limit')!;
      if (limit < 1 || limit > 100) throw new UsageError(`--limit must be 1 to 100, got ${limit}`);
      const page = await (await client(values, io)).webhooks.deliveries(positionals[0]!, { perPage: limit });
      if (values.json) return printJson(io, page.data);
      printDeliveries(io, page.data);
    },
  },
};
