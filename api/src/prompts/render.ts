import type { Sql } from '@promptmill/infra/db';
import type { ChatMessage } from '@promptmill/workflows';
import { renderVersion } from './compiled-versions.ts';
import type { RenderBody, RenderResult } from './prompts.schemas.ts';
import { getAccessiblePrompt, type PromptAccess } from './prompts.ts';
import { resolveVersion, versionNotFound } from './versions.ts';

/** What a run of this version would send, without calling a model. */
export async function renderPrompt(
  sql: Sql,
  access: PromptAccess,
  idOrName: string,
  body: RenderBody,
): Promise<RenderResult> {
  const prompt = await getAccessiblePrompt(sql, access, idOrName);
  const version = await resolveVersion(sql, prompt, body);
  if (!version) throw versionNotFound(idOrName, body);
  const messages: ChatMessage[] = renderVersion(version, body.variables);
  return {
    promptId: prompt.id,
    version: version.version,
    versionId: version.id,
    model: version.model,
    fallbackModels: version.fallbackModels,
    params: version.params,
    ...(version.messages === null ? { content: messages[0]?.content ?? '' } : { messages }),
  };
}
