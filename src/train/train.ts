// train(): the recipe the config's `trainer` names (dpo.ts, sft.ts, kto.ts, online-dpo.ts), each on the shared loop
// (trainer-loop.ts).
import { loadConfig, resolveConfig } from '../config/load-config.js';
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
  if (config.trainer === 'online_dpo') return trainOnlineDpo(config, options);
  if (options.judge) throw configError(`a judge function is for trainer: online_dpo, not ${config.trainer}`);
  if (config.trainer === 'dpo') return trainDpo(config, options);
  if (config.trainer === 'sft') return trainSft(config, options);
  return trainKto(config, options);
}
