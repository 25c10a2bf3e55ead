import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * GET /metrics (Prometheus text) and GET /healthz on the worker's own port. `beforeScrape` brings
 * metrics kept elsewhere into the registry first (the Temporal SDK's buffer).
 */
export async function startMetricsServer(
  registry: Registry,
  port: number,
  host: string,
  opts: { beforeScrape?: () => void } = {},
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      try {
        opts.beforeScrape?.();
      } catch {
        // a failing drain must not cost the scrape of everything else
      }
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}
