// The models a config names — model_name_or_path (at model_revision / model_init_kwargs.revision, as TRL's
// scripts pass it to from_pretrained), online DPO's reward_model_path, an eval config's model, ref_model and
// reward_model — as local folders: a hub id becomes its snapshot folder (resolve.ts), a local path stays as it is.
// A PEFT adapter's base model named by hub id (its adapter_config.json base_model_name_or_path) is fetched too.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { AlignkitError } from '../errors.js';
import { isRepoId, resolveRepo } from './resolve.js';

type Log = (message: string) => void;

/**
 * The revision model_name_or_path resolves at: model_init_kwargs.revision (what TRL's trainers read) or
 * model_revision (what TRL's scripts write into it; `main`, its default, counts as unset). Both set and
 * different is refused rather than one silently winning.
 */
export function modelRevision(config: {
  model_revision?: unknown;
  model_init_kwargs?: Record<string, unknown> | null;
}): string | null {
  const fromKwargs = config.model_init_kwargs?.revision;
  const kwargsRevision = typeof fromKwargs === 'string' ? fromKwargs : null;
  const top =
    typeof config.model_revision === 'string' && config.model_revision !== 'main' ? config.model_revision : null;
  if (top && kwargsRevision && top !== kwargsRevision) {
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `model_revision: ${top} and model_init_kwargs.revision: ${kwargsRevision} disagree; set one (TRL's scripts pass model_revision to from_pretrained as model_init_kwargs.revision)`,
    );
  }
  return kwargsRevision ?? top;
}

/** The base model an adapter folder names, when it is a hub id rather than a folder: fetched into the cache. */
async function resolveAdapterBase(dir: string, key: string, log: Log): Promise<void> {
  const path = join(dir, 'adapter_config.json');
  if (!existsSync(path)) return;
  const adapter = JSON.parse(readFileSync(path, 'utf8')) as { base_model_name_or_path?: unknown; revision?: unknown };
  const base = adapter.base_model_name_or_path;
  if (typeof base !== 'string' || isAbsolute(base) || existsSync(resolve(dir, base)) || !isRepoId(base)) return;
  const revision = typeof adapter.revision === 'string' ? adapter.revision : null;
  await resolveModel(`${key} (its adapter's base_model_name_or_path)`, base, revision, log);
}

/** One model path: a hub id → its snapshot folder (fetching what is missing unless offline); a local path as is. */
async function resolveModel(key: string, value: string, revision: string | null, log: Log): Promise<string> {
  if (!isRepoId(value)) {
    if (existsSync(value)) await resolveAdapterBase(value, key, log);
    return value;
  }
  let dir: string;
  try {
    dir = await resolveRepo({ id: value, repoType: 'model', revision }, { log });
  } catch (err) {
    if (!(err instanceof AlignkitError) || err.code !== 'ERR_NOT_FOUND') throw err;
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `${key}: '${value}' is no local folder (in ${process.cwd()}), so it names a hub model: ${err.message}`,
    );
  }
  log(`${key}: ${value}${revision ? ` (revision ${revision})` : ''} is ${dir}`);
  await resolveAdapterBase(dir, key, log);
  return dir;
}

/** The model keys of a training config, hub ids resolved to snapshot folders (a copy; the config is not changed). */
export async function resolveModelPaths<C extends object>(config: C, log: Log): Promise<C> {
  const values = config as Record<string, unknown>;
  const out: Record<string, unknown> = { ...values };
  if (typeof values.model_name_or_path === 'string') {
    out.model_name_or_path = await resolveModel(
      'model_name_or_path',
      values.model_name_or_path,
      modelRevision(values),
      log,
    );
  }
  if (typeof values.reward_model_path === 'string') {
    out.reward_model_path = await resolveModel('reward_model_path', values.reward_model_path, null, log);
  }
  return out as C;
}

/**
 * An eval config's models (model_name_or_path, ref_model, reward_model) resolved likewise. Its output_dir defaults
 * to the model's folder, which for a hub id would be inside the cache: then output_dir must be given.
 */
export async function resolveEvalModelPaths<
  C extends {
    model_name_or_path: string | null;
    ref_model: string | null;
    reward_model: string | null;
    output_dir: string | null;
  },
>(config: C, log: Log): Promise<C> {
  if (config.output_dir === null && config.model_name_or_path !== null && isRepoId(config.model_name_or_path)) {
    throw new AlignkitError(
      'ERR_INVALID_CONFIG',
      `output_dir is required when model_name_or_path is a hub id ('${config.model_name_or_path}'): its default, the model's folder, would be inside the Hugging Face cache`,
    );
  }
  const out = { ...config };
  for (const key of ['model_name_or_path', 'ref_model', 'reward_model'] as const) {
    const value = config[key];
    if (value !== null) out[key] = (await resolveModel(key, value, null, log)) as C[typeof key];
  }
  return out;
}
