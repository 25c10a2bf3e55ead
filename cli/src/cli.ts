// The `promptmill` command: the table of commands, their options and help, and the dispatcher.
// Arguments are parsed with node:util parseArgs (strict: an unknown option is a usage error).
import { parseArgs } from 'node:util';
import { Promptmill, type Run } from '@promptmill/sdk';
import { describeError, EXIT, UsageError } from './cli-error.ts';
import { type Command, client, int, list, type Options, oneOf, str } from './command.ts';
import { createKey, listKeys, revokeKey, rotateKey, showUsage } from './commands/account.ts';
import { diffPrompts, pullPrompts, pushPrompts } from './commands/prompts.ts';
import { parseVariables, runPrompt, tailRuns } from './commands/runs.ts';
import { WEBHOOK_COMMANDS } from './commands/webhooks.ts';
import { configPath, removeConfig, resolveSettings, writeConfig } from './config.ts';
import type { Io } from './output.ts';

const GLOBAL: Options = {
  'api-key': { type: 'string' },
  'base-url': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};
const GLOBAL_HELP = `Global options:
  --api-key KEY     API key (default: PROMPTMILL_API_KEY, then the key saved by login); a comma-separated list is a fallback list
  --base-url URL    API base URL (default: PROMPTMILL_BASE_URL, then the saved one, then http://127.0.0.1:3000)
  --json            machine-readable output
  -h, --help        this help`;

const COMMANDS: Record<string, Command> = {
  login: {
    usage: 'promptmill login [--api-key KEY] [--base-url URL]',
    summary: 'check a key and save it (and the base URL) in your config folder',
    help: `Checks the key against GET /v1/me and saves it with the base URL in the config file (${'$XDG_CONFIG_HOME'}/promptmill/config.json, mode 0600).
Without --api-key the key is read from standard input (or PROMPTMILL_API_KEY).`,
    options: {},
    positionals: [0, 0],
    run: async ({ values, io }) => {
      const flags = { 'api-key': str(values['api-key']), 'base-url': str(values['base-url']) };
      let apiKey = flags['api-key'] ?? io.env.PROMPTMILL_API_KEY;
      if (!apiKey) {
        if (io.isTTY) io.stderr.write('API key: ');
        apiKey = (await io.readStdin()).trim();
      }
      if (!apiKey) throw new UsageError('No key given: pass --api-key or pipe the key to standard input');
      const { baseUrl } = await resolveSettings(flags, io.env);
      const me = await new Promptmill({ apiKey, baseUrl, maxRetries: 1 }).me();
      const path = await writeConfig({ apiKey, baseUrl }, io.env);
      if (values.json)
        io.stdout.write(
          `${JSON.stringify({ baseUrl, key: me.key.id, organization: me.organization.id, config: path })}\n`,
        );
      else
        io.stderr.write(
          `Logged in to ${baseUrl} as ${me.key.summary} (${me.key.name}, ${me.organization.name}); saved to ${path}\n`,
        );
    },
  },
  logout: {
    usage: 'promptmill logout',
    summary: 'remove the saved key',
    help: 'Deletes the config file login wrote.',
    options: {},
    positionals: [0, 0],
    run: async ({ io }) => {
      await removeConfig(io.env);
      io.stderr.write(`removed ${configPath(io.env)}\n`);
    },
  },
  'prompts pull': {
    usage: 'promptmill prompts pull [NAME…] [--dir DIR]',
    summary: "write prompts' latest versions to a folder of prompt files",
    help: `Writes each prompt (or the ones named) as DIR/<name>.prompt.md: YAML front matter (name, description,
tags, type, model, params, fallbackModels, variables, cacheTtlSeconds, labels) and the template or the
chat messages ('::: system', '::: user', '::: assistant' lines) as the body. Existing files are overwritten.`,
    options: { dir: { type: 'string', default: 'prompts' } },
    positionals: [0, Number.POSITIVE_INFINITY],
    run: async ({ values, positionals, io }) =>
      pullPrompts(await client(values, io), io, {
        dir: str(values.dir)!,
        names: positionals,
        json: Boolean(values.json),
      }),
  },
  'prompts diff': {
    usage: 'promptmill prompts diff [--dir DIR]',
    summary: 'show what push would change',
    help: "Compares every prompt file in DIR with its prompt's latest version and prints a line diff.",
    options: { dir: { type: 'string', default: 'prompts' } },
    positionals: [0, 0],
    run: async ({ values, io }) =>
      diffPrompts(await client(values, io), io, { dir: str(values.dir)!, json: Boolean(values.json) }),
  },
  'prompts push': {
    usage: 'promptmill prompts push [--dir DIR] [--message TEXT]',
    summary: 'create a version for each prompt file whose content changed',
    help: `For each prompt file in DIR: a prompt that does not exist is created; a file whose content (template or
messages, model, params, fallbackModels, variables, cacheTtlSeconds) differs from the latest version gets a
new version, with the file's labels pointing at it; otherwise nothing is created, and labels the file
names are moved to the latest version. Description and tags are updated in place.`,
    options: { dir: { type: 'string', default: 'prompts' }, message: { type: 'string', short: 'm' } },
    positionals: [0, 0],
    run: async ({ values, io }) =>
      pushPrompts(await client(values, io), io, {
        dir: str(values.dir)!,
        json: Boolean(values.json),
        ...(str(values.message) ? { message: str(values.message)! } : {}),
      }),
  },
  run: {
    usage: 'promptmill run PROMPT [--var NAME=VALUE]… [--vars JSON] [--version N | --label L] [--stream]',
    summary: 'run a prompt and print its output',
    help: `Runs the prompt's production version (or --version / --label) and prints the output; the run id, model,
tokens, cost and time go to standard error. --stream prints the text as the model writes it.`,
    options: {
      var: { type: 'string', multiple: true, short: 'v' },
      vars: { type: 'string' },
      version: { type: 'string' },
      label: { type: 'string' },
      stream: { type: 'boolean' },
    },
    positionals: [1, 1],
    run: async ({ values, positionals, io, signal }) => {
      const variables = parseVariables(list(values.var), str(values.vars));
      if (values.version !== undefined && values.label !== undefined)
        throw new UsageError('Give --version or --label, not both');
      await runPrompt(await client(values, io), io, {
        prompt: positionals[0]!,
        variables,
        stream: Boolean(values.stream),
        json: Boolean(values.json),
        version: int(values.version, 'version'),
        label: str(values.label),
        signal,
      });
    },
  },
  'runs tail': {
    usage: 'promptmill runs tail [--prompt NAME] [--status S] [--lines N] [--interval MS] [--limit N]',
    summary: 'follow runs as they finish',
    help: 'Prints the last --lines (10) finished runs, then each new run as it finishes, until Ctrl-C (or --limit new runs).',
    options: {
      prompt: { type: 'string' },
      status: { type: 'string' },
      lines: { type: 'string', short: 'n', default: '10' },
      interval: { type: 'string', default: '2000' },
      limit: { type: 'string' },
    },
    positionals: [0, 0],
    run: async ({ values, io, signal }) =>
      tailRuns(await client(values, io), io, {
        prompt: str(values.prompt),
        status: oneOf<Run['status']>(values.status, 'status', [
          'queued',
          'running',
          'succeeded',
          'failed',
          'canceled',
        ]),
        lines: int(values.lines, 'lines')!,
        intervalMs: Math.max(200, int(values.interval, 'interval')!),
        limit: int(values.limit, 'limit'),
        json: Boolean(values.json),
        signal,
      }),
  },
  'keys create': {
    usage:
      'promptmill keys create --name NAME [--scope S]… [--prompt-id ID]… [--expires-in never|30d|90d|DATE] [--per-minute N] [--origin URL]…',
    summary: 'create an API key (its secret is printed once)',
    help: "Creates a key at most as permissive as the calling one; left-out settings are the calling key's own.",
    options: {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'prompt-id': { type: 'string', multiple: true },
      'expires-in': { type: 'string' },
      'per-minute': { type: 'string' },
      'per-hour': { type: 'string' },
      'per-day': { type: 'string' },
      origin: { type: 'string', multiple: true },
    },
    positionals: [0, 0],
    run: async ({ values, io }) => {
      if (!str(values.name)) throw new UsageError('--name is required');
      await createKey(await client(values, io), io, {
        name: str(values.name)!,
        scopes: list(values.scope),
        promptIds: list(values['prompt-id']),
        expiresIn: str(values['expires-in']),
        perMinute: int(values['per-minute'], 'per-minute'),
        perHour: int(values['per-hour'], 'per-hour'),
        perDay: int(values['per-day'], 'per-day'),
        origins: list(values.origin),
        json: Boolean(values.json),
      });
    },
  },
  'keys list': {
    usage: 'promptmill keys list',
    summary: "list the organization's keys",
    help: 'Id, name, summary (pm_live_abcd...wxyz), status, scopes, last use, use count, expiry.',
    options: {},
    positionals: [0, 0],
    run: async ({ values, io }) => listKeys(await client(values, io), io, { json: Boolean(values.json) }),
  },
  'keys revoke': {
    usage: 'promptmill keys revoke KEY_ID',
    summary: 'revoke a key',
    help: 'Revokes the key at once, in every api process.',
    options: {},
    positionals: [1, 1],
    run: async ({ values, positionals, io }) =>
      revokeKey(await client(values, io), io, { id: positionals[0]!, json: Boolean(values.json) }),
  },
  'keys rotate': {
    usage: 'promptmill keys rotate KEY_ID [--grace-period SECONDS]',
    summary: 'new secret for a key (printed once); the old one works for the grace period',
    help: 'The old secret keeps working for --grace-period seconds (default 86400) but cannot manage keys.',
    options: { 'grace-period': { type: 'string' } },
    positionals: [1, 1],
    run: async ({ values, positionals, io }) =>
      rotateKey(await client(values, io), io, {
        id: positionals[0]!,
        grace: int(values['grace-period'], 'grace-period'),
        json: Boolean(values.json),
      }),
  },
  usage: {
    usage: 'promptmill usage [--from ISO] [--to ISO] [--granularity hour|day] [--group-by key|prompt|model]',
    summary: 'runs, errors, tokens, cost and latency as a table',
    help: 'GET /v1/usage: the last 24 h by default.',
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      granularity: { type: 'string' },
      'group-by': { type: 'string' },
    },
    positionals: [0, 0],
    run: async ({ values, io }) =>
      showUsage(await client(values, io), io, {
        from: str(values.from),
        to: str(values.to),
        granularity: oneOf(values.granularity, 'granularity', ['hour', 'day'] as const),
        groupBy: oneOf(values['group-by'], 'group-by', ['key', 'prompt', 'model'] as const),
        json: Boolean(values.json),
      }),
  },
  ...WEBHOOK_COMMANDS,
};

const GROUPS = ['prompts', 'runs', 'keys', 'webhooks'];

function mainHelp(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`);
  return `promptmill — prompts as code, runs from the terminal

Usage: promptmill COMMAND [options]

Commands:
${rows.join('\n')}

${GLOBAL_HELP}

Run 'promptmill COMMAND --help' for a command's options.
`;
}

function commandHelp(_name: string, c: Command): string {
  return `Usage: ${c.usage}\n\n${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.\n${c.help}\n\n${GLOBAL_HELP}\n`;
}

/** Runs the CLI; resolves with the exit code (errors are printed as one line on stderr). */
export async function main(
  argv: string[],
  io: Io,
  signal: AbortSignal = new AbortController().signal,
): Promise<number> {
  try {
    const [first, second] = argv;
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      io.stdout.write(mainHelp());
      return first === undefined ? EXIT.usage : EXIT.ok;
    }
    if (first === '--version') {
      io.stdout.write('0.1.0\n');
      return EXIT.ok;
    }
    let name = first;
    let rest = argv.slice(1);
    if (GROUPS.includes(first)) {
      if (second === undefined || second.startsWith('-')) {
        const subs = Object.keys(COMMANDS).filter((c) => c.startsWith(`${first} `));
        io.stdout.write(
          `Usage: promptmill ${first} ${subs.map((s) => s.split(' ')[1]).join('|')} [options]\n\n`,
        );
        io.stdout.write(`${subs.map((s) => `  ${s.padEnd(14)} ${COMMANDS[s]!.summary}`).join('\n')}\n`);
        return second === '--help' || second === '-h' ? EXIT.ok : EXIT.usage;
      }
      name = `${first} ${second}`;
      rest = argv.slice(2);
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`Unknown command '${name}'`);
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...GLOBAL, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout.write(commandHelp(name, command));
      return EXIT.ok;
    }
    const [min, max] = command.positionals;
    if (positionals.length < min) throw new UsageError(`Missing argument: ${command.usage}`);
    if (positionals.length > max) throw new UsageError(`Unexpected argument '${positionals[max]}'`);
    await command.run({ values, positionals, io, signal });
    return signal.aborted ? EXIT.interrupted : EXIT.ok;
  } catch (err) {
    if (signal.aborted) return EXIT.interrupted;
    const { line, code } = describeError(err);
    io.stderr.write(`promptmill: ${line}\n`);
    return code;
  }
}
