import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError, type Prompt, type Promptmill, type PromptVersion } from '@promptmill/sdk';
import { CliError } from '../cli-error.ts';
import { type Io, lineDiff, printJson } from '../output.ts';
import {
  contentDiffers,
  fileNameFor,
  fromServer,
  PROMPT_FILE_SUFFIX,
  type PromptFile,
  parsePromptFile,
  readPromptDir,
  serializePromptFile,
  versionParams,
} from '../prompt-files.ts';

async function latestVersion(pm: Promptmill, prompt: Prompt): Promise<PromptVersion | undefined> {
  return prompt.latestVersion > 0 ? pm.prompts.versions.get(prompt.id, prompt.latestVersion) : undefined;
}

/** Where each prompt already has a file in the folder (by the name in its front matter). */
async function existingPaths(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(PROMPT_FILE_SUFFIX));
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out.set(parsePromptFile(await readFile(join(dir, n), 'utf8'), n).name, join(dir, n));
    } catch {
      // a file that does not parse is left alone; pull writes the prompt under its own name
    }
  }
  return out;
}

/** Writes each prompt's latest version to `<dir>/<name>.prompt.md`. */
export async function pullPrompts(
  pm: Promptmill,
  io: Io,
  opts: { dir: string; names: string[]; json: boolean },
) {
  await mkdir(opts.dir, { recursive: true });
  const paths = await existingPaths(opts.dir);
  const prompts: Prompt[] = [];
  if (opts.names.length > 0) for (const n of opts.names) prompts.push(await pm.prompts.get(n));
  else for await (const p of pm.prompts.listAll()) prompts.push(p);
  const taken = new Set([...paths.values()]);
  const pulled: Array<{ name: string; version: number; path: string }> = [];
  for (const prompt of prompts) {
    const version = await latestVersion(pm, prompt);
    if (!version) {
      io.stderr.write(`skipped ${prompt.name}: no versions yet\n`);
      continue;
    }
    let path = paths.get(prompt.name);
    if (!path) {
      const base = fileNameFor(prompt.name).slice(0, -PROMPT_FILE_SUFFIX.length);
      path = join(opts.dir, `${base}${PROMPT_FILE_SUFFIX}`);
      for (let k = 2; taken.has(path); k++) path = join(opts.dir, `${base}-${k}${PROMPT_FILE_SUFFIX}`);
      taken.add(path);
    }
    await writeFile(path, serializePromptFile(fromServer(prompt, version)));
    pulled.push({ name: prompt.name, version: version.version, path });
    if (!opts.json) io.stderr.write(`pulled ${prompt.name} v${version.version} → ${path}\n`);
  }
  if (opts.json) printJson(io, { pulled });
  else io.stderr.write(`${pulled.length} prompt${pulled.length === 1 ? '' : 's'} pulled into ${opts.dir}\n`);
}

interface Plan {
  name: string;
  path: string;
  file: PromptFile;
  /** new: no such prompt; changed: a new version; labels: only labels to move; unchanged */
  action: 'new' | 'changed' | 'labels' | 'unchanged';
  prompt?: Prompt;
  latest?: PromptVersion;
  promptFields: { description?: string; tags?: string[] };
  labelsToMove: string[];
  diff: string[];
}

async function plan(pm: Promptmill, dir: string): Promise<Plan[]> {
  const files = await readPromptDir(dir);
  if (files.size === 0) throw new CliError(`No ${PROMPT_FILE_SUFFIX} files in ${dir}`);
  const plans: Plan[] = [];
  for (const [name, { path, file }] of files) {
    let prompt: Prompt | undefined;
    try {
      prompt = await pm.prompts.get(name);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    const ours = serializePromptFile(file);
    if (!prompt) {
      plans.push({
        name,
        path,
        file,
        action: 'new',
        promptFields: {},
        labelsToMove: [],
        diff: lineDiff('', ours),
      });
      continue;
    }
    const latest = await latestVersion(pm, prompt);
    const promptFields: Plan['promptFields'] = {};
    if (file.description !== prompt.description) promptFields.description = file.description;
    if (JSON.stringify(file.tags) !== JSON.stringify(prompt.tags)) promptFields.tags = file.tags;
    const theirs = latest ? serializePromptFile({ ...fromServer(prompt, latest), labels: file.labels }) : '';
    const changed = !latest || contentDiffers(file, latest);
    const labelsToMove = changed ? [] : file.labels.filter((l) => prompt.labels[l] !== latest?.version);
    const diff = changed || Object.keys(promptFields).length > 0 ? lineDiff(theirs, ours) : [];
    const action = changed
      ? 'changed'
      : labelsToMove.length > 0 || Object.keys(promptFields).length
        ? 'labels'
        : 'unchanged';
    plans.push({
      name,
      path,
      file,
      action,
      prompt,
      ...(latest ? { latest } : {}),
      promptFields,
      labelsToMove,
      diff,
    });
  }
  return plans;
}

export async function diffPrompts(pm: Promptmill, io: Io, opts: { dir: string; json: boolean }) {
  const plans = await plan(pm, opts.dir);
  if (opts.json) {
    printJson(io, {
      prompts: plans.map((p) => ({
        name: p.name,
        path: p.path,
        action: p.action,
        latestVersion: p.latest?.version ?? null,
        labelsToMove: p.labelsToMove,
        diff: p.diff,
      })),
    });
    return;
  }
  for (const p of plans) {
    if (p.action === 'unchanged') {
      io.stdout.write(`= ${p.name} (v${p.latest?.version ?? 0}, unchanged)\n`);
      continue;
    }
    const from = p.action === 'new' ? '(new prompt)' : `${p.name} v${p.latest?.version ?? 0}`;
    io.stdout.write(`--- ${from}\n+++ ${p.path}\n`);
    for (const line of p.diff) io.stdout.write(`${line}\n`);
    if (p.labelsToMove.length)
      io.stdout.write(`  labels to move to v${p.latest?.version}: ${p.labelsToMove.join(', ')}\n`);
  }
  const changes = plans.filter((p) => p.action !== 'unchanged').length;
  io.stderr.write(`${changes} of ${plans.length} prompt${plans.length === 1 ? '' : 's'} would change\n`);
}

/** Creates a version for every file whose content differs from its prompt's latest version. */
export async function pushPrompts(
  pm: Promptmill,
  io: Io,
  opts: { dir: string; json: boolean; message?: string },
) {
  const plans = await plan(pm, opts.dir);
  const results: Array<{ name: string; action: string; version: number | null }> = [];
  for (const p of plans) {
    const { file } = p;
    let version = p.latest?.version ?? null;
    if (p.action === 'new') {
      await pm.prompts.create({ name: p.name, description: file.description, tags: file.tags });
      version = (await pm.prompts.versions.create(p.name, versionParams(file, opts.message))).version;
    } else if (p.action === 'changed' || p.action === 'labels') {
      if (Object.keys(p.promptFields).length) await pm.prompts.update(p.prompt!.id, p.promptFields);
      if (p.action === 'changed') {
        version = (await pm.prompts.versions.create(p.prompt!.id, versionParams(file, opts.message))).version;
      } else {
        for (const label of p.labelsToMove)
          await pm.prompts.labels.set(p.prompt!.id, label, p.latest!.version);
      }
    }
    results.push({ name: p.name, action: p.action, version });
    if (!opts.json) {
      const what =
        p.action === 'new'
          ? `created, v${version}`
          : p.action === 'changed'
            ? `v${version} created`
            : p.action === 'labels'
              ? `v${version} unchanged; updated ${[...p.labelsToMove.map((l) => `label ${l}`), ...Object.keys(p.promptFields)].join(', ')}`
              : `v${version} unchanged`;
      io.stderr.write(`${p.name}: ${what}\n`);
    }
  }
  const created = results.filter((r) => r.action === 'new' || r.action === 'changed').length;
  if (opts.json) printJson(io, { versionsCreated: created, prompts: results });
  else io.stderr.write(`${created} new version${created === 1 ? '' : 's'}\n`);
}
