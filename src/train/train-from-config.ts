// train(): the recipe the config's `trainer` names (dpo.ts or listwise.ts, sft.ts, kto.ts, orpo.ts, cpo.ts, bco.ts,
// reward.ts, online-dpo.ts), each on the shared loop (trainer-loop.ts). A process started with torchrun's
// variables (by `alignkit train --nproc_per_node`, torchrun, SLURM...) is one rank of a data-parallel job: it joins
// the group here, checks that every rank has the same config, trains its shard, and leaves.
import { configNotes } from '../config/config-notes.js';
import { fsdpPlan, zeroStageNotes } from '../config/fsdp.js';
import { loadConfig, resolveConfig, type TrainConfig as ResolvedConfig } from '../config/load-config.js';
import { trainerSchemas } from '../config/trainer-fields.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { distributedEnv } from '../distributed/launch-env.js';
import { configError } from '../errors.js';
import { warnIfWontFit } from '../estimate/train-warning.js';
import { native } from '../native.js';
import { checkReporting } from '../report/reporters.js';
import { trainBco } from './bco.js';
import { trainCpo } from './cpo.js';
import { trainDpo } from './dpo.js';
import { trainListwise, trainsListwise } from './listwise.js';
import { trainKto } from './kto.js';
import { trainOrpo } from './orpo.js';
import { trainReward } from './reward.js';
import { trainOnlineDpo, type OnlineDpoOptions } from './online-dpo.js';
import { checkInputFolders, claimOutputDir } from './run-output.js';
import { resolveInputs } from './resolve-inputs.js';
import { checkLoraTargets } from './peft.js';
import { trainSft } from './sft.js';
import type { TrainConfig } from '../types/config-types.js';
import type { TrainOptions, TrainResult } from './train-types.js';

export type { LogEntry, TrainOptions, TrainProgress, TrainResult } from './train-types.js';
export type { OnlineDpoOptions } from './online-dpo.js';
export type { ScoreJudge } from './online-judge.js';

/**
 * Trains as `config.trainer` says: a config object (its keys typed from the trainer's schema) or a YAML/JSON
 * file's path. Either is checked key by key before any work. A config built at run time (JSON.parse, a form) is
 * passed `as TrainConfig`: it meets the same checks, with the same errors, as a file.
 */
export async function train(configOrPath: TrainConfig | string, options: OnlineDpoOptions = {}): Promise<TrainResult> {
  const config = typeof configOrPath === 'string' ? await loadConfig(configOrPath) : resolveConfig(configOrPath);
  if (options.judge && config.trainer !== 'online_dpo')
    throw configError(`a judge function is for trainer: online_dpo, not ${config.trainer}`);
  const log = options.log ?? ((message: string) => console.error(message));
  // One note for each key the config sets that has no effect in alignkit (the schema says why).
  for (const note of configNotes(config, trainerSchemas[config.trainer])) log(note);
  for (const note of fsdpPlan(config.fsdp, config.fsdp_config).notes) log(note);
  for (const note of zeroStageNotes(config)) log(note);
  // report_to's names, and whether push_to_hub can push (offline, no token): refused before any work.
  checkReporting(config, log);
  // Before any work: output_dir is not an input model's folder, is writable, and is this run's alone (until it returns).
  const release = claimOutputDir(config, log, options.dataParallel?.rank ?? distributedEnv()?.rank ?? 0);
  try {
    // Hub ids (models, datasets) and mixtures → local folders and files, fetched into the HF cache if missing.
    return await trainClaimed(await resolveInputs(config, log), options);
  } finally {
    release();
  }
}

async function trainClaimed(config: ResolvedConfig, options: OnlineDpoOptions): Promise<TrainResult> {
  // libtorch maps its libraries before the data is read: a Parquet reader's WebAssembly reserves ~10 GB of address
  // space, after which libtorch would no longer fit under a `ulimit -v` (as clusters set); before it, both do.
  native();
  checkInputFolders(config);
  // A run this machine has not the memory for: one warning naming the options that would fit (src/estimate).
  await checkLoraTargets(config);
  await warnIfWontFit(config, options.log ?? ((message: string) => console.error(message)));
  const dataParallel = options.dataParallel ?? (await DataParallel.join(config));
  let finished = false;
  try {
    await dataParallel.checkSameConfig(config);
    if (config.trainer === 'online_dpo') {
      if (dataParallel.worldSize > 1)
        throw configError('trainer: online_dpo runs in one process; data-parallel training is for dpo, sft and kto');
      return await trainOnlineDpo(config, options);
    }
    const run = { ...options, dataParallel };
    const result = await trainOn(config, run);
    finished = true;
    return result;
  } finally {
    if (!options.dataParallel) await dataParallel.close(finished);
  }
}

/** The recipe `config.trainer` names, on the shared loop. */
function trainOn(config: Exclude<ResolvedConfig, { trainer: 'online_dpo' }>, run: TrainOptions): Promise<TrainResult> {
  switch (config.trainer) {
    case 'dpo':
      // Ranked rows trained on whole rankings (the other ranked_pairing values make pairs for the DPO recipe).
      return trainsListwise(config) ? trainListwise(config, run) : trainDpo(config, run);
    case 'sft':
      return trainSft(config, run);
    case 'kto':
      return trainKto(config, run);
    case 'orpo':
      return trainOrpo(config, run);
    case 'cpo':
      return trainCpo(config, run);
    case 'bco':
      return trainBco(config, run);
    case 'reward':
      return trainReward(config, run);
  }
}
