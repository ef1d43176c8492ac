// A TRL / alignment-handbook recipe as `alignkit dpo|sft|kto|orpo|cpo|bco|reward` takes it: the YAML TRL's scripts read (no `trainer:`
// key: the command names the trainer), with command-line flags over its keys as TrlParser does (the recipe sets
// the defaults, the flags override them), and its `env:` mapping, the environment variables TrlParser sets.
import { configError } from '../errors.js';
import { legacySpelling } from './legacy-fields.js';
import { checkKey, configMapping, readConfigFile, resolveConfig, type TrainConfig } from './load-config.js';
import { trainerSchemas } from './trainer-fields.js';
import { parseTrlArgs } from './trl-args.js';

/** The trainers TRL has a config class (and a script) for, with that class: `alignkit <trainer> recipe.yaml`. */
export const TRL_CONFIG_CLASS = {
  dpo: 'DPOConfig',
  sft: 'SFTConfig',
  kto: 'KTOConfig',
  orpo: 'ORPOConfig',
  cpo: 'CPOConfig',
  bco: 'BCOConfig',
  reward: 'RewardConfig',
} as const;
export type TrlTrainer = keyof typeof TRL_CONFIG_CLASS;
export const TRL_TRAINERS = Object.keys(TRL_CONFIG_CLASS) as TrlTrainer[];

export interface Recipe {
  config: TrainConfig;
  /** The recipe's `env:` mapping, for the caller to set before training. */
  env: Record<string, string>;
  /** The recipe file, when there is one (a recipe may be all flags). */
  path?: string;
}

/** Reads `alignkit <trainer> [recipe.yaml] [--config recipe.yaml] [--key value ...]`'s arguments into a config. */
export async function loadRecipe(trainer: TrlTrainer, args: readonly string[]): Promise<Recipe> {
  const { configPath, flags } = parseTrlArgs(args, trainerSchemas[trainer], trainer);
  const recipe = configPath === undefined ? {} : configMapping(await readConfigFile(configPath), configPath);
  return { ...resolveRecipe(trainer, recipe, flags, configPath), path: configPath };
}

/** The recipe's keys with `flags` over them, resolved for `trainer`; `path` names the recipe in errors. */
export function resolveRecipe(
  trainer: TrlTrainer,
  recipe: Record<string, unknown>,
  flags: Record<string, unknown>,
  path = `alignkit ${trainer}`,
): { config: TrainConfig; env: Record<string, string> } {
  const { trainer: named, env, ...keys } = recipe;
  if (named !== undefined && named !== trainer) {
    throw configError(
      path,
      `trainer: ${JSON.stringify(named)}, but the command is alignkit ${trainer} (drop the trainer key, or run alignkit train)`,
    );
  }
  const schema = trainerSchemas[trainer];
  const current = (key: string) => legacySpelling(key, trainer)?.to ?? key;
  const overrides: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flags)) {
    // A flag replaces the recipe's key, whichever spelling (warmup_ratio / warmup_steps) either uses.
    for (const written of Object.keys(keys)) if (current(written) === current(key)) delete keys[written];
    overrides[key] =
      key in schema ? checkKey(`alignkit ${trainer} --${key}`, key, schema[key as keyof typeof schema], value) : value;
  }
  return { config: resolveConfig({ ...keys, ...overrides, trainer }, path), env: envOf(env, path) };
}

/** TrlParser's `env:` mapping: each value as Python's str() writes it. */
function envOf(env: unknown, path: string): Record<string, string> {
  if (env === undefined || env === null) return {};
  if (typeof env !== 'object' || Array.isArray(env))
    throw configError(path, "'env' must be a mapping of environment variables to values");
  return Object.fromEntries(
    Object.entries(env).map(([name, value]) => {
      if (typeof value === 'object' && value !== null)
        throw configError(path, `env.${name} must be a string, number or boolean`);
      return [name, value === null ? 'None' : typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value)];
    }),
  );
}
