// The configs train() and evaluate() take from TypeScript, derived from the schemas the loader checks
// (src/config/trainer-fields.ts, src/eval/eval-config.ts), so a key added there is typed here with nothing to
// repeat. A misspelled key, a value of the wrong type or an unknown trainer fails `tsc`. What a TS type cannot say
// is still checked when the config loads: integers and ranges (`number`), the loss names of the native catalogue
// (`string`), the keys inside mappings (`Record<string, unknown>`), keys that take any YAML value (`unknown`),
// which keys a run needs and the rules between keys. A YAML file's old spellings (warmup_ratio, max_seq_length...)
// and numbers written as strings are accepted in files only; here the current TRL names and numbers are.
import type { InputOf } from '../config/schema.js';
import type { trainerSchemas } from '../config/trainer-fields.js';
import type { evalSchema } from '../eval/eval-config.js';

type Trainers = typeof trainerSchemas;

/** Trainer `N`'s keys: `trainer` names it, every other key may be left out (TRL's default fills it in). */
type ConfigFor<N extends keyof Trainers> = { trainer: N } & Omit<InputOf<Trainers[N]>, 'trainer'>;

/** `trainer: 'dpo'`: TRL 1.13's DPOConfig keys (all of TrainingArguments'), ModelConfig's and the datasets'. */
export type DpoConfig = ConfigFor<'dpo'>;
/** `trainer: 'sft'`: TRL 1.13's SFTConfig keys (all of TrainingArguments'), ModelConfig's and the datasets'. */
export type SftConfig = ConfigFor<'sft'>;
/** `trainer: 'kto'`: TRL 1.13's KTOConfig keys (all of TrainingArguments'), ModelConfig's and the datasets'. */
export type KtoConfig = ConfigFor<'kto'>;
/** `trainer: 'online_dpo'`: DpoConfig's keys and OnlineDPOConfig's generation and judge keys (docs/training.md). */
export type OnlineDpoConfig = ConfigFor<'online_dpo'>;
/** `trainer: 'orpo'`: trl.experimental's ORPOConfig keys (all of TrainingArguments'), ModelConfig's and the datasets'. */
export type OrpoConfig = ConfigFor<'orpo'>;
/** `trainer: 'cpo'`: trl.experimental's CPOConfig keys (SimPO is loss_type simpo), ModelConfig's and the datasets'. */
export type CpoConfig = ConfigFor<'cpo'>;
/** `trainer: 'bco'`: trl.experimental's BCOConfig keys (all of TrainingArguments'), ModelConfig's and the datasets'. */
export type BcoConfig = ConfigFor<'bco'>;
/** `trainer: 'reward'`: TRL 1.13's RewardConfig keys (all of TrainingArguments'), ModelConfig's and the datasets'. */
export type RewardConfig = ConfigFor<'reward'>;
/** What train() takes: one trainer's config, chosen by `trainer`. */
export type TrainConfig = { [N in keyof Trainers]: ConfigFor<N> }[keyof Trainers];
/** What evaluate() takes (`alignkit eval`'s keys, docs/evaluation.md); every key may be left out. */
export type EvalConfig = InputOf<typeof evalSchema>;
