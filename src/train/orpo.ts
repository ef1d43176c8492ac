// trainer: orpo — TRL 1.13's experimental ORPOTrainer (reference-free: NLL on chosen + β · odds-ratio term); the
// recipe is reference-free.ts, the step Model.orpoStep (native/train/reference_free_step.cpp).
import type { OrpoConfig } from '../config/load-config.js';
import type { OrpoLossOptions } from '../types/reference-free-steps.js';
import { referenceFreeLossOptions, trainReferenceFree } from './reference-free.js';
import type { TrainOptions, TrainResult } from './train-types.js';

export function trainOrpo(config: OrpoConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const loss = referenceFreeLossOptions<OrpoLossOptions>(config);
  return trainReferenceFree(config, options, (policy, batch, how) => policy.orpoStep(batch, { ...loss, ...how }));
}
