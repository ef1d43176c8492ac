// Reads a training config (YAML or JSON, same keys as TRL's DPOConfig/SFTConfig/KTOConfig) and checks every key
// against the trainer's schema: an unknown key names the closest valid one, a wrong type says what was expected.
// The eval config (src/eval/eval-config.ts) goes through the same checks.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { AlignkitError, configError } from '../errors.js';
import { refusalOf } from './config-notes.js';
import { applyFsdp } from './fsdp.js';
import { renameLegacyKeys } from './legacy-fields.js';
import { checkLrScheduler } from './lr-scheduler-kwargs.js';
import { checkLossOptions } from './loss-options.js';
import { checkTrainableValues } from './trainable-values.js';
import type { ConfigOf, Field, Schema } from './schema.js';
import { trainerSchemas as schemas } from './trainer-fields.js';

/** Trainer `N`'s resolved config: every key of its schema, TRL's defaults filled in. */
type ResolvedFor<N extends keyof typeof schemas> = ConfigOf<(typeof schemas)[N]> & { trainer: N };
export type DpoConfig = ResolvedFor<'dpo'>;
export type SftConfig = ResolvedFor<'sft'>;
export type KtoConfig = ResolvedFor<'kto'>;
export type OnlineDpoConfig = ResolvedFor<'online_dpo'>;
export type OrpoConfig = ResolvedFor<'orpo'>;
export type CpoConfig = ResolvedFor<'cpo'>;
export type BcoConfig = ResolvedFor<'bco'>;
export type RewardConfig = ResolvedFor<'reward'>;
export type TrainConfig = { [N in keyof typeof schemas]: ResolvedFor<N> }[keyof typeof schemas];

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The valid name nearest to `key`, when it is near enough to be a plausible typo. */
export function closestName(key: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = editDistance(key, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function describe(value: unknown): string {
  // NaN and ±Infinity (YAML's .nan, .inf) are named as such: JSON.stringify would print them as null.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value === null
    ? 'null'
    : Array.isArray(value)
      ? `list ${JSON.stringify(value)}`
      : `${typeof value} ${JSON.stringify(value)}`;
}

function checkValue(where: string, key: string, field: Field, value: unknown): unknown {
  if (value === null) {
    if (field.nullable) return null;
    throw configError(where, `'${key}' cannot be null`);
  }
  const wrong = (expected: string) => configError(where, `'${key}' must be ${expected}, got ${describe(value)}`);
  switch (field.kind) {
    case 'number':
    case 'int': {
      // YAML 1.2 reads `1e-6` as a number but `5e-7`-style strings written with quotes stay strings; accept both.
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || Number.isNaN(n)) throw wrong(field.kind === 'int' ? 'an integer' : 'a number');
      if (field.kind === 'int' && !Number.isInteger(n)) throw wrong('an integer');
      if (!Number.isFinite(n)) throw wrong('a finite number');
      const min = field.min;
      const max = field.kind === 'number' ? field.max : undefined;
      if (min !== undefined && n < min) throw wrong(`at least ${min}`);
      if (max !== undefined && n > max) throw wrong(`at most ${max}`);
      return n;
    }
    case 'string':
      if (typeof value !== 'string') throw wrong('a string');
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw wrong('true or false');
      return value;
    case 'stringOrBoolean':
      if (typeof value !== 'string' && typeof value !== 'boolean') throw wrong('a string or true/false');
      return value;
    case 'enum':
      if (typeof value !== 'string' || !field.values.includes(value)) throw wrong(`one of ${field.values.join(', ')}`);
      return value;
    case 'enumList': {
      const list = Array.isArray(value) ? value : [value];
      for (const v of list) {
        if (typeof v !== 'string' || !field.values.includes(v))
          throw wrong(`one or a list of ${field.values.join(', ')}`);
      }
      // TRL wraps a single loss_type in a list; a field whose default is one name (report_to) keeps one as written.
      return Array.isArray(value) || Array.isArray(field.default) ? list : value;
    }
    case 'stringList': {
      const list = Array.isArray(value) ? value : [value];
      if (!list.every((v) => typeof v === 'string')) throw wrong('a string or a list of strings');
      return list;
    }
    case 'numberList':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isFinite(v)))
        throw wrong('a list of finite numbers');
      return value;
    case 'object':
      if (typeof value !== 'object' || Array.isArray(value)) throw wrong('a mapping');
      return value;
    case 'any':
      return value;
  }
}

/** `value` as `key`'s field takes it (numbers written as strings read), or an error naming `where` and the key. */
export function checkKey(where: string, key: string, field: Field, value: unknown): unknown {
  const checked = checkValue(where, key, field, value);
  const refusal = refusalOf(key, field, checked);
  if (refusal) throw configError(where, refusal);
  return checked;
}

/**
 * Checks every key of `values` against `schema` (unknown key → the closest valid name; wrong type → what was
 * expected; a refused key → why) and fills in the schema's defaults. `subject` names what the keys are for in the
 * unknown-key error.
 */
export function applySchema(
  values: Record<string, unknown>,
  schema: Schema,
  where: string,
  subject: string,
): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const field = schema[key];
    if (!field) {
      const hint = closestName(key, Object.keys(schema));
      throw configError(where, `unknown key '${key}' for ${subject}${hint ? ` (did you mean '${hint}'?)` : ''}`);
    }
    config[key] = checkKey(where, key, field, value);
  }
  for (const [key, field] of Object.entries(schema)) {
    if (!(key in config)) config[key] = structuredClone(field.default);
  }
  return config;
}

/** The mapping at the top of a config (as parsed from YAML/JSON or passed to the API). */
export function configMapping(raw: unknown, where: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw configError(where, 'expected a mapping of keys to values');
  // A key set to undefined (a TS caller's `output_dir: dir` with no dir) is a key left out, as in JSON.
  return Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined));
}

/** Validates a config object (as parsed from YAML/JSON or passed to `train`) and fills in TRL's defaults. */
export function resolveConfig(raw: unknown, where = 'config'): TrainConfig {
  const values = configMapping(raw, where);
  const trainer = values.trainer;
  if (typeof trainer !== 'string' || !Object.hasOwn(schemas, trainer)) {
    const names = Object.keys(schemas).join(', ');
    if (trainer === undefined) {
      throw configError(
        where,
        `'trainer' is missing (one of ${names}); a TRL or alignment-handbook recipe, which has none, runs with alignkit ${Object.keys(
          schemas,
        )
          .filter((n) => n !== 'online_dpo')
          .join('|')} recipe.yaml`,
      );
    }
    throw configError(where, `'trainer' must be one of ${names}, got ${describe(trainer)}`);
  }
  // Old spellings (warmup_ratio, evaluation_strategy, max_seq_length...) as transformers 4 / TRL < 1 read them.
  const current = renameLegacyKeys(values, trainer, where);
  const config = applySchema(
    current,
    schemas[trainer as keyof typeof schemas],
    where,
    `trainer ${trainer}`,
  ) as TrainConfig;
  checkLrScheduler(config, where);
  checkTrainableValues(config, where);
  checkLossOptions(config, where);
  // fsdp: full_shard → zero_stage 3, shard_grad_op → 2; hybrid sharding and offload refused.
  applyFsdp(config, current, where);
  return config;
}

/** Reads a YAML or JSON file into a plain value (not yet validated). */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AlignkitError('ERR_NOT_FOUND', `${path}: cannot be read (${(err as Error).message})`);
  }
  try {
    return parse(text);
  } catch (err) {
    throw configError(path, `not valid YAML or JSON (${(err as Error).message})`);
  }
}

/** Reads and validates a YAML or JSON training config file. */
export async function loadConfig(path: string): Promise<TrainConfig> {
  return resolveConfig(await readConfigFile(path), path);
}
