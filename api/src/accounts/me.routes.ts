import { defineRoute, type RouteDef } from '../http/define-route.ts';
import { one } from '../http/openapi.ts';
import type { AccountDeps } from './deps.ts';
import { describeCaller, meSchema } from './me.ts';

export function meRoutes({ sql, clock }: AccountDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/v1/me',
      summary: 'The calling key, its organization and plan, its limits and its usage this period',
      tag: 'Keys',
      responses: {
        200: {
          description: 'Also answered for Free-plan organizations',
          schema: one(meSchema.meta({ id: 'Me' })),
        },
      },
      handler: async ({ res, auth }) => {
        res.json({ data: await describeCaller(sql, auth, clock()) });
      },
    }),
  ];
}
