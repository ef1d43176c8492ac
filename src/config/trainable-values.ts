// Values each of which passes its own field's check but with which a run cannot train: refused at config load, with
// the reason, rather than found as a NaN loss (or as a run that learns nothing) after the work. Every number is
// already finite (load-config.ts); these are the rules that need another key, or the loss's formula, to decide.
import { AlignkitError } from '../errors.js';

/** The keys the rules read, as a resolved config of any trainer holds them (absent for trainers without the key). */
interface TrainableFields {
  trainer: string;
  beta?: number;
  loss_type?: string | string[] | null;
  label_smoothing?: number;
  adam_beta1?: number;
  adam_beta2?: number;
  num_train_epochs?: number;
  max_steps?: number;
}

/** DPO loss types whose formula does not read beta (TRL's _compute_loss). */
const BETA_FREE_DPO_LOSSES = new Set(['sft']);

export function checkTrainableValues(config: TrainableFields, where: string): void {
  const refuse = (message: string) => new AlignkitError('ERR_INVALID_CONFIG', `${where}: ${message}`);
  const lossTypes = config.loss_type === undefined || config.loss_type === null ? [] : [config.loss_type].flat();

  // Every DPO loss but 'sft', and every KTO loss, scales the policy/reference log-ratios by beta (ipo and sppo_hard
  // divide by it): at 0 the loss is flat, below 0 it pushes toward the rejected completions.
  const needsBeta = config.trainer === 'kto' || lossTypes.some((type) => !BETA_FREE_DPO_LOSSES.has(type));
  if (config.beta !== undefined && needsBeta && config.beta <= 0) {
    const which = config.trainer === 'kto' ? `KTO's loss_type ${lossTypes.join(', ') || 'kto'}` : `loss_type ${lossTypes.filter((t) => !BETA_FREE_DPO_LOSSES.has(t)).join(', ')}`;
    throw refuse(`'beta' must be above 0 for ${which}, got ${config.beta} (the loss scales the log-ratios to the ` +
      'reference by beta: at 0 it learns nothing, below 0 it learns the opposite preference)');
  }
  // robust: (clean - flipped) / (1 - 2 * label_smoothing), as TRL says it must stay below 0.5.
  if (lossTypes.includes('robust') && config.label_smoothing !== undefined && config.label_smoothing >= 0.5) {
    throw refuse(`'label_smoothing' must be below 0.5 for loss_type robust, got ${config.label_smoothing} (the loss divides by 1 - 2 * label_smoothing)`);
  }
  // torch.optim.AdamW refuses these too ("Invalid beta parameter"): at 1 the bias correction divides by 0.
  for (const key of ['adam_beta1', 'adam_beta2'] as const) {
    const value = config[key];
    if (value !== undefined && value >= 1) throw refuse(`'${key}' must be below 1, got ${value} (AdamW's bias correction divides by 1 - ${key}^step)`);
  }
  if (config.num_train_epochs === 0 && config.max_steps !== undefined && config.max_steps <= 0) {
    throw refuse("'num_train_epochs' is 0 and max_steps is unset: the run would train no step; set num_train_epochs above 0 or max_steps");
  }
}
