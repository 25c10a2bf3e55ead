import express, { Router } from 'express';
import { z } from 'zod';
import { defineRoute, type RouteDef } from './define-route.ts';
import { swaggerUiDir } from './openapi.ts';

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Promptmill API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;

const TAG = 'Operations';

/** /openapi.json and the reference page at /docs; `document` is generated once from the mounted routes. */
export function docsRoutes(document: () => object): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      summary: 'This OpenAPI 3.1 document, generated from the same declarations as the routes',
      tag: TAG,
      auth: 'none',
      responses: { 200: { description: 'The document', schema: z.record(z.string(), z.unknown()) } },
      handler: ({ res }) => {
        res.json(document());
      },
    }),
    defineRoute({
      method: 'get',
      path: '/docs',
      summary: 'API reference page (Swagger UI, served locally)',
      tag: TAG,
      auth: 'none',
      responses: { 200: { description: 'HTML page', schema: z.string(), contentType: 'text/html' } },
      handler: ({ res }) => {
        res.setHeader(
          'Content-Security-Policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
        );
        res.type('html').send(DOCS_PAGE);
      },
    }),
  ];
}

/** The page's script and Swagger UI's files: static assets, not API operations. */
export const DOCS_ASSET_PATHS = ['/docs/init.js', '/docs/assets'] as const;

export function docsAssets(): Router {
  const router = Router();
  router.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send("SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' });");
  });
  router.use('/docs/assets', express.static(swaggerUiDir(), { index: false, maxAge: '1h' }));
  return router;
}
