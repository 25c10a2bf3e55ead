/**
 * Portkey AI gateway (npm @portkey-ai/gateway, installed by bench/peers/setup.sh into
 * bench/.peers/node), started from its bin `build/start-server.js`:
 *  - `--port=N` is its only listen option; it binds every interface, so loopback-only.mjs is
 *    preloaded to bind it to 127.0.0.1;
 *  - `--headless`: no UI and no /log/stream endpoint (the UI is also skipped with NODE_ENV=production).
 * It has no telemetry switch to turn off: nothing in start-server.js calls out unless a request
 * asks for a provider or plugin that lives elsewhere. Requests name the upstream per call:
 * `x-portkey-provider: openai` + `x-portkey-custom-host: <mock>/v1` (127.0.0.1 is a trusted
 * custom host by default).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startPeerProcess } from './process.ts';
import { chatCompletion, type SystemUnderTest } from './request.ts';
import { freePort } from './stack.ts';

const PEERS = fileURLToPath(new URL('../.peers/node/', import.meta.url));
const START_SERVER = `${PEERS}node_modules/@portkey-ai/gateway/build/start-server.js`;
const LOOPBACK_ONLY = fileURLToPath(new URL('./loopback-only.mjs', import.meta.url));

export function portkeyInstalled(): string | undefined {
  try {
    return (
      JSON.parse(readFileSync(`${PEERS}node_modules/@portkey-ai/gateway/package.json`, 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return undefined;
  }
}

export async function startPortkey(mockUrl: string): Promise<SystemUnderTest> {
  const version = portkeyInstalled();
  if (!version) throw new Error('Portkey gateway is not installed: run bash bench/peers/setup.sh');
  const port = await freePort();
  const peer = await startPeerProcess({
    name: 'portkey',
    command: process.execPath,
    args: ['--import', LOOPBACK_ONLY, START_SERVER, `--port=${port}`, '--headless'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' },
    cwd: PEERS,
    port,
    readyPath: '/',
    readyTimeoutMs: 30_000,
  });
  const headers = {
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': mockUrl,
    authorization: 'Bearer bench-upstream-key',
  };
  return {
    id: 'portkey',
    label: `Portkey gateway ${version}`,
    request: (shape) => chatCompletion(`${peer.origin}/v1`, headers, shape),
    processes: [{ name: 'portkey (node)', pid: peer.pid }],
    stop: () => peer.stop(),
  };
}
