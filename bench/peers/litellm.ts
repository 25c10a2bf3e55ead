/**
 * LiteLLM proxy (PyPI litellm[proxy], installed by bench/peers/setup.sh into bench/.peers/venv),
 * started with its `litellm` CLI: `--host 127.0.0.1 --port N --num_workers 1` (one uvicorn
 * process, its default), no database (no DATABASE_URL: no spend logs, keys or UI state).
 * Configuration defaults turned off or pinned, read from litellm/proxy/proxy_cli.py and
 * litellm/__init__.py of the installed version:
 *  - LITELLM_LOCAL_MODEL_COST_MAP=True: use the bundled model cost map instead of fetching it from
 *    GitHub at import; LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True likewise for its beta-header table;
 *  - `litellm_settings.telemetry: false` (the `--telemetry` flag and the setting are no-ops in this
 *    version; kept so an older one also stays quiet); HF_HUB_OFFLINE=1 (no tokenizer downloads);
 *  - DISABLE_ADMIN_UI=True; LITELLM_LOG=ERROR (uvicorn at error level: no access log line per request);
 *  - a master key (it refuses to start without one) sent as the bearer token, as a client would;
 *  - started in a temp dir, so it loads no `.env` from the project.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPeerProcess } from './process.ts';
import { chatCompletion, MODEL, type SystemUnderTest } from './request.ts';
import { freePort } from './stack.ts';

const VENV = fileURLToPath(new URL('../.peers/venv/', import.meta.url));

/** The installed version (from setup.sh's stamp), or undefined when not installed. */
export function liteLlmInstalled(): string | undefined {
  try {
    return /=(\S+)/.exec(readFileSync(`${VENV}.stamp`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export async function startLiteLlm(mockUrl: string): Promise<SystemUnderTest> {
  const version = liteLlmInstalled();
  if (!version) throw new Error('LiteLLM is not installed: run bash bench/peers/setup.sh');
  const dir = mkdtempSync(join(tmpdir(), 'bench-litellm-'));
  const masterKey = `sk-bench-${randomBytes(24).toString('hex')}`;
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'model_list:',
      `  - model_name: ${MODEL}`,
      '    litellm_params:',
      `      model: openai/${MODEL}`,
      `      api_base: ${mockUrl}`,
      '      api_key: bench-upstream-key',
      'litellm_settings:',
      '  telemetry: false',
      'general_settings:',
      `  master_key: ${masterKey}`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  try {
    const peer = await startPeerProcess({
      name: 'litellm',
      command: `${VENV}bin/litellm`,
      args: ['--config', config, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LANG: 'C.UTF-8',
        LITELLM_LOCAL_MODEL_COST_MAP: 'True',
        LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS: 'True',
        LITELLM_LOG: 'ERROR',
        DISABLE_ADMIN_UI: 'True',
        HF_HUB_OFFLINE: '1',
      },
      cwd: dir,
      port,
      readyPath: '/health/liveliness',
      readyTimeoutMs: 120_000,
    });
    const headers = { authorization: `Bearer ${masterKey}` };
    return {
      id: 'litellm',
      label: `LiteLLM proxy ${version}`,
      request: (shape) => chatCompletion(`${peer.origin}/v1`, headers, shape),
      processes: [{ name: 'litellm (python)', pid: peer.pid }],
      stop: async () => {
        await peer.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
