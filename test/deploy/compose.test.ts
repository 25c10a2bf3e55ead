// The production compose file cannot be run here (no Docker engine), so it is checked by reading it:
// what is published, which networks reach what, which secrets are required, that the api and the
// worker accept the environment it gives them, and what the nginx gateway forwards.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadApiEnv } from '../../api/src/env.ts';
import { loadWorkerEnv } from '../../workers/src/env.ts';

const read = (file: string) => readFileSync(new URL(`../../infra/compose/${file}`, import.meta.url), 'utf8');
const COMPOSE = read('docker-compose.yml');
const OPS = read('docker-compose.ops.yml');
const NGINX = read('nginx.conf');
const DOCKERFILE = readFileSync(new URL('../../infra/docker/Dockerfile', import.meta.url), 'utf8');

/**
 * Compose variable interpolation (compose spec, "Interpolation"): `$$`, `${VAR}`, `${VAR:-default}`
 * and `${VAR-default}`, `${VAR:?error}` (unset or empty is an error) and `${VAR?error}` (unset is).
 */
function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (whole, name: string | undefined, colon: string | undefined, op: string | undefined, arg: string) => {
      if (whole === '$$') return '$';
      const value = env[name!];
      const missing = value === undefined || (colon === ':' && value === '');
      if (op === '?' && missing) throw new Error(`required variable ${name} is missing a value: ${arg}`);
      if (op === '-' && missing) return arg;
      return value ?? '';
    },
  );
}

interface Service {
  image?: string;
  ports?: string[];
  expose?: string[];
  networks?: string[];
  environment?: Record<string, string>;
  command?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, unknown>;
}
interface ComposeFile {
  services: Record<string, Service>;
  networks?: Record<string, { internal?: boolean } | null>;
}

const SECRETS = {
  ADMIN_TOKEN: 'admin-token-0123456789',
  TOKEN_SIGNING_SECRET: 's'.repeat(40),
  OPENAI_API_KEY: 'sk-test',
  POSTGRES_PASSWORD: 'pg-password',
  GRAFANA_ADMIN_PASSWORD: 'grafana-password',
};

const load = (text: string, env: Record<string, string | undefined> = SECRETS): ComposeFile =>
  parse(interpolate(text, env), { merge: true }) as ComposeFile;

/** The runtime stage's `ENV` line of the Dockerfile (HOST=0.0.0.0 and friends). */
function imageEnv(): Record<string, string> {
  const runtime = DOCKERFILE.slice(DOCKERFILE.indexOf('AS runtime'));
  const line = /^ENV (.+)$/m.exec(runtime)![1]!;
  return Object.fromEntries(line.split(/\s+/).map((pair) => pair.split('=') as [string, string]));
}

describe('infra/compose/docker-compose.yml', () => {
  const compose = load(COMPOSE);
  const { services } = compose;

  it('publishes only the gateway; the api, Temporal (and its UI), Postgres, Prometheus and Grafana are not', () => {
    const published = Object.entries(services)
      .filter(([, s]) => (s.ports ?? []).length > 0)
      .map(([name]) => name);
    expect(published).toEqual(['gateway']);
    for (const name of ['api', 'worker', 'temporal', 'postgres', 'prometheus', 'grafana']) {
      expect(services[name], name).toBeDefined();
      expect(services[name]!.ports, name).toBeUndefined();
    }
  });

  it('operator surfaces sit on an internal network only; the gateway cannot reach them', () => {
    const internal = (net: string) => compose.networks?.[net]?.internal === true;
    for (const name of ['postgres', 'temporal', 'prometheus', 'grafana']) {
      const nets = services[name]!.networks ?? [];
      expect(nets.length, name).toBeGreaterThan(0);
      expect(nets.every(internal), `${name}: ${nets.join(', ')}`).toBe(true);
    }
    const gatewayNets = services.gateway!.networks ?? [];
    expect(gatewayNets.length).toBeGreaterThan(0);
    expect(gatewayNets.some(internal)).toBe(false);
    for (const name of ['postgres', 'temporal', 'prometheus', 'grafana', 'worker']) {
      const shared = (services[name]!.networks ?? []).filter((n) => gatewayNets.includes(n));
      expect(shared, `${name} shares a network with the gateway`).toEqual([]);
    }
    expect(services.api!.networks).toEqual(expect.arrayContaining(gatewayNets));
  });

  it('Grafana: no anonymous access, no sign-up, an admin password that must be set', () => {
    const env = services.grafana!.environment!;
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
    expect(env.GF_USERS_ALLOW_SIGN_UP).toBe('false');
    expect(env.GF_SECURITY_ADMIN_PASSWORD).toBe(SECRETS.GRAFANA_ADMIN_PASSWORD);
  });

  it('every secret is required (VAR:? interpolation): missing or empty stops compose with a message naming it', () => {
    for (const name of Object.keys(SECRETS)) {
      expect(COMPOSE, name).toMatch(new RegExp(`\\$\\{${name}:\\?[^}]+\\}`));
      expect(COMPOSE, `${name} must not default to empty`).not.toMatch(new RegExp(`\\$\\{${name}:?-`));
      for (const value of [undefined, '']) {
        expect(() => load(COMPOSE, { ...SECRETS, [name]: value }), `${name}=${String(value)}`).toThrow(
          new RegExp(`required variable ${name} is missing a value: set ${name}`),
        );
      }
    }
  });

  it('the api and the worker accept the environment it gives them (it starts as written)', () => {
    const api = services.api!.environment!;
    expect(() => loadApiEnv({ ...imageEnv(), ...api, NODE_ENV: 'production' })).not.toThrow();
    expect(loadApiEnv({ ...imageEnv(), ...api })).toMatchObject({
      HOST: '0.0.0.0',
      ADMIN_TOKEN: SECRETS.ADMIN_TOKEN,
      TOKEN_SIGNING_SECRET: SECRETS.TOKEN_SIGNING_SECRET,
      TRUST_PROXY: 1,
    });
    const worker = services.worker!.environment!;
    expect(loadWorkerEnv({ ...imageEnv(), ...worker })).toMatchObject({
      OPENAI_API_KEY: SECRETS.OPENAI_API_KEY,
      OPENAI_BASE_URL: 'https://api.openai.com/v1',
    });
    // each gets only the secrets it uses
    expect(worker).not.toHaveProperty('ADMIN_TOKEN');
    expect(api).not.toHaveProperty('OPENAI_API_KEY');
  });
});

/** A service's bind mounts of repo folders: container path → absolute host path (compose paths are relative to the file). */
function bindMounts(service: Service): Map<string, { host: string; readOnly: boolean }> {
  const composeDir = fileURLToPath(new URL('../../infra/compose/', import.meta.url));
  const mounts = new Map<string, { host: string; readOnly: boolean }>();
  for (const volume of service.volumes ?? []) {
    const [source, target, mode] = volume.split(':') as [string, string, string | undefined];
    if (!source.startsWith('.')) continue; // a named volume
    mounts.set(target, { host: posix.join(composeDir, source), readOnly: mode === 'ro' });
  }
  return mounts;
}

/** The host path a container path of `service` comes from, through its bind mounts (or undefined). */
function hostPath(service: Service, containerPath: string): string | undefined {
  for (const [target, { host }] of bindMounts(service)) {
    if (containerPath === target) return host;
    if (containerPath.startsWith(`${target}/`))
      return posix.join(host, containerPath.slice(target.length + 1));
  }
  return undefined;
}

const shareNetwork = (a: Service, b: Service) =>
  (a.networks ?? []).some((n) => (b.networks ?? []).includes(n));

describe('infra/compose/docker-compose.yml: Prometheus and Grafana', () => {
  const { services } = load(COMPOSE);
  const prometheus = services.prometheus!;
  const grafana = services.grafana!;
  const flag = (name: string) =>
    prometheus.command?.find((a) => a.startsWith(`--${name}=`))?.slice(`--${name}=`.length);

  interface ScrapeConfig {
    job_name: string;
    metrics_path?: string;
    dns_sd_configs?: { names: string[]; type: string; port: number }[];
    static_configs?: { targets: string[] }[];
  }
  const configPath = flag('config.file') ?? '/etc/prometheus/prometheus.yml';
  const configFile = hostPath(prometheus, configPath);
  const config = parse(readFileSync(configFile!, 'utf8')) as {
    rule_files: string[];
    scrape_configs: ScrapeConfig[];
  };

  it('Prometheus reads infra/prometheus/prometheus.yml and every rule file, mounted read-only', () => {
    expect(configFile).toBe(fileURLToPath(new URL('../../infra/prometheus/prometheus.yml', import.meta.url)));
    expect([...bindMounts(prometheus).values()].every((m) => m.readOnly)).toBe(true);
    // rule_files resolve next to the config file, inside the mount
    const ruleFiles = config.rule_files.flatMap((pattern) => {
      const abs = posix.join(posix.dirname(configPath), pattern);
      const dir = hostPath(prometheus, posix.dirname(abs));
      expect(dir, `${pattern} is outside Prometheus' mounts`).toBeDefined();
      const glob = new RegExp(`^${posix.basename(abs).replaceAll('.', '\\.').replaceAll('*', '.*')}$`);
      return readdirSync(dir!).filter((f) => glob.test(f));
    });
    expect(ruleFiles.sort()).toEqual(
      readdirSync(new URL('../../infra/prometheus/rules/', import.meta.url))
        .filter((f) => f.endsWith('.yml'))
        .sort(),
    );
    // its data lives on a named volume, not in the container
    expect(prometheus.volumes).toContain(`promdata:${flag('storage.tsdb.path')}`);
  });

  it('scrapes every api replica and every worker, on the port each serves /metrics on', () => {
    const jobs = Object.fromEntries(config.scrape_configs.map((c) => [c.job_name, c]));
    const env = imageEnv();
    const expected = {
      'promptmill-api': {
        service: 'api',
        port: Number(loadApiEnv({ ...env, ...services.api!.environment }).PORT),
      },
      'promptmill-worker': {
        service: 'worker',
        port: loadWorkerEnv({ ...env, ...services.worker!.environment }).WORKER_METRICS_PORT,
      },
    };
    for (const [job, { service, port }] of Object.entries(expected)) {
      const sd = jobs[job]?.dns_sd_configs?.[0];
      // DNS service discovery: one target per container, so replicas and --scale need no change
      expect(sd, job).toMatchObject({ names: [service], type: 'A', port });
      expect(jobs[job]!.metrics_path ?? '/metrics').toBe('/metrics');
      expect(services[service]!.expose, service).toContain(String(port));
      expect(shareNetwork(prometheus, services[service]!), `prometheus reaches ${service}`).toBe(true);
    }
    // both listen on every interface in the image, not only on the container's loopback
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.WORKER_METRICS_HOST).toBe('0.0.0.0');
  });

  it('Prometheus does not wait for the api or worker (it must be up to alert when they are not)', () => {
    expect(prometheus.depends_on).toBeUndefined();
  });

  it('Grafana provisions the Prometheus datasource and every generated dashboard', () => {
    const provisioning = hostPath(grafana, '/etc/grafana/provisioning');
    expect(provisioning).toBe(fileURLToPath(new URL('../../infra/grafana/provisioning', import.meta.url)));
    const datasources = parse(
      readFileSync(posix.join(provisioning!, 'datasources/prometheus.yml'), 'utf8'),
    ) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    const ds = datasources.datasources[0]!;
    expect(ds.type).toBe('prometheus');
    const url = new URL(ds.url);
    expect(services[url.hostname], `datasource host ${url.hostname} is a compose service`).toBe(prometheus);
    expect(url.port).toBe('9090');
    expect(shareNetwork(grafana, prometheus)).toBe(true);

    const providers = parse(readFileSync(posix.join(provisioning!, 'dashboards/promptmill.yml'), 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    const dashboards = hostPath(grafana, providers.providers[0]!.options.path);
    expect(dashboards).toBe(fileURLToPath(new URL('../../infra/grafana/dashboards', import.meta.url)));
    const files = readdirSync(dashboards!).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      const dashboard = JSON.parse(readFileSync(posix.join(dashboards!, file), 'utf8')) as { uid: string };
      expect(dashboard.uid, file).toMatch(/^promptmill-/);
    }
    expect([...bindMounts(grafana).values()].every((m) => m.readOnly && existsSync(m.host))).toBe(true);
  });
});

describe('infra/compose/docker-compose.ops.yml', () => {
  it('publishes the operator UIs on the host loopback only', () => {
    const { services } = load(OPS);
    const ports = Object.values(services).flatMap((s) => s.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });
});

interface Location {
  modifier: '' | '=' | '^~' | '~' | '~*';
  path: string;
  body: string;
}

const locations: Location[] = [...NGINX.matchAll(/location\s+(=|\^~|~\*|~)?\s*(\S+)\s*\{([^}]*)\}/g)].map(
  (m) => ({ modifier: (m[1] ?? '') as Location['modifier'], path: m[2]!, body: m[3]! }),
);

/** nginx's choice of location for a (normalized) URI: exact, longest prefix (^~ stops), regex, prefix. */
function locationFor(uri: string): Location | undefined {
  const exact = locations.find((l) => l.modifier === '=' && l.path === uri);
  if (exact) return exact;
  const prefix = locations
    .filter((l) => (l.modifier === '' || l.modifier === '^~') && uri.startsWith(l.path))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (prefix?.modifier === '^~') return prefix;
  const regex = locations.find(
    (l) =>
      (l.modifier === '~' || l.modifier === '~*') &&
      new RegExp(l.path, l.modifier === '~*' ? 'i' : '').test(uri),
  );
  return regex ?? prefix;
}

const isProxied = (uri: string) => /proxy_pass\s/.test(locationFor(uri)?.body ?? '');

describe('infra/compose/nginx.conf', () => {
  it('forwards the public API', () => {
    for (const uri of [
      '/v1/prompts',
      '/api/v1/run',
      '/v1/keys/key_1/rotate',
      '/oauth/token',
      '/healthz',
      '/readyz',
      '/openapi.json',
      '/docs',
      '/docs/assets/swagger-ui.css',
    ]) {
      expect(isProxied(uri), uri).toBe(true);
    }
  });

  it('does not forward the operator API or /metrics, in any spelling Express would route', () => {
    for (const uri of [
      '/admin/v1/orgs',
      '/admin/v1/orgs/org_1/keys',
      '/ADMIN/v1/orgs',
      '/Admin/V1/orgs',
      '/admin',
      '/metrics',
      '/metrics/',
      '/METRICS',
      '/',
      '/anything-else',
    ]) {
      expect(isProxied(uri), uri).toBe(false);
    }
    // whatever is not listed is answered by nginx itself
    expect(locationFor('/admin/v1/orgs')?.body).toMatch(/return\s+404/);
  });
});
