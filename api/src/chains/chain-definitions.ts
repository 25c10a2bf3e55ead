import { newId } from '@promptmill/infra';
import {
  appendChainRevision,
  type ChainRow,
  findChain,
  insertChain,
  listChains,
  type Sql,
  softDeleteChain,
} from '@promptmill/infra/db';
import type { ChainDefinition } from '@promptmill/workflows';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import type { Page } from '../http/pagination.ts';
import type { ChainBody, ChainBodyIn } from './chains.schemas.ts';
import { validateChain, withInputContract } from './validate-chain.ts';

export const chainNotFound = (id: string) => new AppError('WORKFLOW_NOT_FOUND', `Workflow '${id}' not found`);
const nameTaken = (name: string) => new AppError('CONFLICT', `A workflow named '${name}' already exists`);

/** What a revision stores: the body as validated (defaults filled in), without name and description. */
function definitionOf(body: ChainBody): ChainDefinition {
  return {
    input: body.input,
    steps: body.steps.map((s) => ({
      id: s.id,
      prompt: s.prompt,
      ...(s.version !== undefined ? { version: s.version } : {}),
      ...(s.label !== undefined ? { label: s.label } : {}),
      variables: s.variables,
      dependsOn: s.dependsOn,
      onError: s.onError,
      ...(s.model !== undefined ? { model: s.model } : {}),
    })),
    ...(body.output ? { output: body.output } : {}),
  };
}

export function toChainResource(c: ChainRow) {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    revision: c.revision,
    input: c.definition.input,
    steps: c.definition.steps,
    output: c.definition.output ?? null,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    links: { self: `/v1/workflows/${c.id}`, runs: `/v1/workflows/${c.id}/runs` },
  };
}

export async function createChain(sql: Sql, auth: AuthContext, sent: ChainBodyIn) {
  const body = withInputContract(sent);
  await validateChain(sql, auth, body);
  const id = newId('workflow');
  const inserted = await insertChain(sql, {
    id,
    orgId: auth.org.id,
    name: body.name,
    description: body.description,
    definition: definitionOf(body),
  });
  if (!inserted) throw nameTaken(body.name);
  return toChainResource((await findChain(sql, auth.org.id, id))!);
}

/** A full replacement: a new immutable revision (runs in flight keep the one they pinned). */
export async function updateChain(sql: Sql, auth: AuthContext, idOrName: string, sent: ChainBodyIn) {
  const body = withInputContract(sent);
  const existing = await findChain(sql, auth.org.id, idOrName);
  if (!existing) throw chainNotFound(idOrName);
  await validateChain(sql, auth, body);
  const revision = await appendChainRevision(sql, {
    id: existing.id,
    orgId: auth.org.id,
    name: body.name,
    description: body.description,
    definition: definitionOf(body),
  });
  if (revision === 'conflict') throw nameTaken(body.name);
  if (revision === undefined) throw chainNotFound(idOrName);
  return toChainResource((await findChain(sql, auth.org.id, existing.id, revision))!);
}

export async function getChain(sql: Sql, auth: AuthContext, idOrName: string, revision?: number) {
  const chain = await findChain(sql, auth.org.id, idOrName, revision);
  if (!chain) {
    if (revision !== undefined && (await findChain(sql, auth.org.id, idOrName))) {
      throw new AppError('WORKFLOW_NOT_FOUND', `Workflow '${idOrName}' has no revision ${revision}`);
    }
    throw chainNotFound(idOrName);
  }
  return toChainResource(chain);
}

export async function listChainResources(sql: Sql, auth: AuthContext, page: Page) {
  const { rows, total } = await listChains(sql, auth.org.id, { limit: page.perPage, offset: page.offset });
  return { chains: rows.map(toChainResource), total };
}

export async function deleteChain(sql: Sql, auth: AuthContext, idOrName: string): Promise<void> {
  const chain = await findChain(sql, auth.org.id, idOrName);
  if (!chain || !(await softDeleteChain(sql, auth.org.id, chain.id))) throw chainNotFound(idOrName);
}
