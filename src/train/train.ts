// train(): the recipe the config's `trainer` names (dpo.ts, sft.ts, kto.ts), each on the shared loop (trainer-loop.ts).
import { loadConfig, resolveConfig } from '../config/load-config.js';
import { trainDpo } from './dpo.js';
import { trainKto } from './kto.js';
import { trainSft } from './sft.js';
import { type TrainOptions, type TrainResult } from './trainer-loop.js';

export type { LogEntry, TrainOptions, TrainProgress, TrainResult } from './trainer-loop.js';

export async function train(configOrPath: string | Record<string, unknown>, options: TrainOptions = {}): Promise<TrainResult> {
  const config = typeof configOrPath === 'string' ? await loadConfig(configOrPath) : resolveConfig(configOrPath);
  if (config.trainer === 'dpo') return trainDpo(config, options);
  if (config.trainer === 'sft') return trainSft(config, options);
  return trainKto(config, options);
}
