// train()'s check before any work: when the run's memory plan exceeds what this machine has available, one warning
// line naming the options that would make it fit (format-estimate.ts, fit-advice.ts). Advisory only: a model the
// estimate cannot read (an unusual config.json) is left to the loading to report, and training goes on.
import type { TrainConfig } from '../config/load-config.js';
import { estimateConfig } from './estimate-config.js';
import { wontFitLine } from './format-estimate.js';

export async function warnIfWontFit(config: TrainConfig, log: (message: string) => void): Promise<void> {
  if (config.trainer === 'online_dpo' || !config.model_name_or_path) return;
  let line: string | null;
  try {
    line = wontFitLine(await estimateConfig(config));
  } catch {
    return;
  }
  if (line) log(line);
}
