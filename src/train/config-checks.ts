// Checks of the TrainingArguments every recipe shares, run before any work: precision options alignkit does not
// implement, and evaluation without an eval_dataset.
import { configError } from '../errors.js';
import { checkModelInit, trainingDtype } from './model-init.js';
import type { LoopConfig } from './recipe.js';

/** The precision options alignkit does not implement are an error when they would change the result, a note when not. */
export function checkPrecision(config: LoopConfig, note: (message: string) => void): void {
  // On CPU accelerate gives fp16 no autocast (TRL trains in float32); on CUDA it would need a loss scaler.
  if (config.fp16)
    throw configError(
      'fp16 mixed precision is not implemented (on CPU the HF Trainer trains in float32 with it); use bf16: true, or bf16: false for float32',
    );
  checkModelInit(config, note);
  if (config.bf16 === null) {
    const dtype = trainingDtype(config);
    note(
      `note: bf16 is unset; as in TRL (true unless fp16) training runs under bfloat16 autocast with the weights in ${dtype === 'auto' ? "the checkpoint's dtype" : dtype}; set bf16: false to train without autocast`,
    );
  }
}

/** eval_strategy or eval_on_start without an eval_dataset is an error. */
export function checkEvalDataset(config: LoopConfig): boolean {
  const evaluates = config.eval_strategy !== 'no' || config.eval_on_start;
  if (evaluates && !config.eval_dataset) {
    throw configError(
      `${config.eval_strategy !== 'no' ? `eval_strategy '${config.eval_strategy}'` : 'eval_on_start'} needs an eval_dataset`,
    );
  }
  return evaluates;
}
