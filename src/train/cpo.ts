// trainer: cpo — TRL 1.13's experimental CPOTrainer: loss_type sigmoid, hinge, ipo or simpo (SimPO: length-normalised
// with a target margin; cpo_alpha 0 leaves pure SimPO), plus cpo_alpha · NLL on chosen; reference-free. The recipe
// is reference-free.ts, the step Model.cpoStep (native/train/reference_free_step.cpp).
import type { CpoConfig } from '../config/load-config.js';
import type { CpoLossOptions } from '../types/reference-free-steps.js';
import { referenceFreeLossOptions, trainReferenceFree } from './reference-free.js';
import type { TrainOptions, TrainResult } from './train-types.js';

export function trainCpo(config: CpoConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const note = options.log ?? ((message: string) => console.error(message));
  // CPOTrainer.__init__'s warning: hinge and ipo have no smoothed form.
  if ((config.loss_type === 'hinge' || config.loss_type === 'ipo') && config.label_smoothing > 0)
    note(`note: label_smoothing has no effect with loss_type ${config.loss_type} (TRL ignores it too)`);
  const loss = referenceFreeLossOptions<CpoLossOptions>(config);
  return trainReferenceFree(config, options, (policy, batch, how) => policy.cpoStep(batch, { ...loss, ...how }));
}
