// train(): the recipe the config's `trainer` names (dpo.ts, sft.ts, kto.ts, online-dpo.ts), each on the shared loop
// (trainer-loop.ts). A process started with torchrun's variables (by `alignkit train --nproc_per_node`, torchrun,
// SLURM...) is one rank of a data-parallel job: it joins the group here, checks that every rank has the same
// config, trains its shard, and leaves.
import { loadConfig, resolveConfig } from '../config/load-config.js';
import { DataParallel } from '../distributed/data-parallel.js';
import { trainDpo } from './dpo.js';
import { trainKto } from './kto.js';
import { trainOnlineDpo, type OnlineDpoOptions } from './online-dpo.js';
import { trainSft } from './sft.js';
import { configError, type TrainResult } from './trainer-loop.js';

export type { LogEntry, TrainOptions, TrainProgress, TrainResult } from './trainer-loop.js';
export type { OnlineDpoOptions } from './online-dpo.js';
export type { ScoreJudge } from './online-judge.js';

export async function train(configOrPath: string | Record<string, unknown>, options: OnlineDpoOptions = {}): Promise<TrainResult> {
  const config = typeof configOrPath === 'string' ? await loadConfig(configOrPath) : resolveConfig(configOrPath);
  if (options.judge && config.trainer !== 'online_dpo') throw configError(`a judge function is for trainer: online_dpo, not ${config.trainer}`);
  const dataParallel = options.dataParallel ?? (await DataParallel.join(config));
  let finished = false;
  try {
    await dataParallel.checkSameConfig(config);
    if (config.trainer === 'online_dpo') {
      if (dataParallel.worldSize > 1) throw configError('trainer: online_dpo runs in one process; data-parallel training is for dpo, sft and kto');
      return await trainOnlineDpo(config, options);
    }
    const run = { ...options, dataParallel };
    const result = config.trainer === 'dpo' ? await trainDpo(config, run)
      : config.trainer === 'sft' ? await trainSft(config, run) : await trainKto(config, run);
    finished = true;
    return result;
  } finally {
    if (!options.dataParallel) await dataParallel.close(finished);
  }
}
