// train(): the recipe the config's `trainer` names, on the shared loop (trainer-loop.ts).
import { loadConfig, resolveConfig, type DpoConfig } from '../config/load-config.js';
import { trainDpo } from './dpo.js';
import { configError, type TrainOptions, type TrainResult } from './trainer-loop.js';

export type { LogEntry, TrainOptions, TrainProgress, TrainResult } from './trainer-loop.js';

export async function train(configOrPath: string | Record<string, unknown>, options: TrainOptions = {}): Promise<TrainResult> {
  const config = typeof configOrPath === 'string' ? await loadConfig(configOrPath) : resolveConfig(configOrPath);
  if (config.trainer !== 'dpo') throw configError(`train() runs trainer: dpo, got trainer: ${config.trainer}`);
  return trainDpo(config as DpoConfig, options);
}
