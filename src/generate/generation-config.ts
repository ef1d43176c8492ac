// The generation defaults a Hugging Face model folder carries: generation_config.json, or without one the special
// token ids of config.json (transformers' GenerationConfig.from_model_config).
import { join } from 'node:path';
import { AlignkitError } from '../errors.js';
import { readModelJson } from '../io/model-file.js';

/** The fields of generation_config.json that generate() reads, under their names. */
export interface GenerationDefaults {
  /** One id or several; empty when the folder names none. */
  eos_token_id: number[];
  pad_token_id?: number;
  max_new_tokens?: number;
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
}

type Json = Record<string, unknown>;

async function readJson(path: string): Promise<Json | undefined> {
  return readModelJson(path);
}

/** Reads `json[key]` when it is set (null counts as unset) and has the type `check` accepts. */
function field<T>(
  json: Json,
  key: string,
  path: string,
  expected: string,
  check: (v: unknown) => v is T,
): T | undefined {
  const value = json[key];
  if (value === undefined || value === null) return undefined;
  if (!check(value)) {
    throw new AlignkitError('ERR_INVALID_MODEL', `${path}: ${key} must be ${expected}, got ${JSON.stringify(value)}`);
  }
  return value;
}

const isTokenId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const isTokenIds = (v: unknown): v is number | number[] => isTokenId(v) || (Array.isArray(v) && v.every(isTokenId));
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';

/** The folder's generation defaults; a folder with neither file has none. */
export async function readGenerationDefaults(dir: string): Promise<GenerationDefaults> {
  const generationPath = join(dir, 'generation_config.json');
  const configPath = join(dir, 'config.json');
  const generation = await readJson(generationPath);
  const [json, path] = generation ? [generation, generationPath] : [(await readJson(configPath)) ?? {}, configPath];
  const eos = field(json, 'eos_token_id', path, 'a token id or a list of them', isTokenIds);
  const defaults: GenerationDefaults = {
    eos_token_id: eos === undefined ? [] : [eos].flat(),
    pad_token_id: field(json, 'pad_token_id', path, 'a token id', isTokenId),
  };
  if (!generation) return defaults;
  return {
    ...defaults,
    max_new_tokens: field(json, 'max_new_tokens', path, 'a positive integer', isTokenId),
    do_sample: field(json, 'do_sample', path, 'a boolean', isBoolean),
    temperature: field(json, 'temperature', path, 'a number', isNumber),
    top_k: field(json, 'top_k', path, 'an integer >= 0', isTokenId),
    top_p: field(json, 'top_p', path, 'a number', isNumber),
  };
}
