// Which decoder layers gradient checkpointing recomputes in backward. All of them is gradient_checkpointing's
// meaning; two keys choose fewer: gradient_checkpointing_kwargs.every_n_layers (transformers 5.18's
// _set_gradient_checkpointing: layer i iff i % every_n_layers == 0) and activation_memory_budget
// (torch._functorch.config's name: the fraction of the layers' activation memory kept, at layer granularity).
import type { LoopConfig } from './recipe.js';

export type CheckpointingConfig = Pick<
  LoopConfig,
  'gradient_checkpointing' | 'gradient_checkpointing_kwargs' | 'activation_memory_budget'
>;

/** gradient_checkpointing_kwargs.every_n_layers as written (1 when absent); model-init.ts checks it is a positive integer. */
export function everyNLayers(config: CheckpointingConfig): number {
  const n = config.gradient_checkpointing_kwargs?.every_n_layers;
  return typeof n === 'number' ? n : 1;
}

/**
 * One flag per decoder layer (true: recomputed in backward) for a model of `numLayers` layers, or undefined when
 * gradient_checkpointing recomputes every layer or none (it is off). A budget b checkpoints round((1 − b)·L)
 * layers, spread evenly from layer 0: layer i iff ceil((i + 1)·k / L) > ceil(i·k / L), so 0.5 on an even L picks
 * the layers every_n_layers 2 does.
 */
export function checkpointedLayers(config: CheckpointingConfig, numLayers: number): boolean[] | undefined {
  if (!config.gradient_checkpointing) return undefined;
  const budget = config.activation_memory_budget;
  if (budget !== null && budget !== undefined) {
    const k = Math.round((1 - budget) * numLayers);
    const ceilOf = (i: number) => Math.ceil((i * k) / numLayers);
    return Array.from({ length: numLayers }, (_, i) => ceilOf(i + 1) > ceilOf(i));
  }
  const n = everyNLayers(config);
  return n === 1 ? undefined : Array.from({ length: numLayers }, (_, i) => i % n === 0);
}

/** The forward options a recipe's training step takes: gradient_checkpointing and the layers it applies to. */
export function checkpointingOptions(config: CheckpointingConfig, numLayers: number) {
  const layers = checkpointedLayers(config, numLayers);
  return {
    gradient_checkpointing: config.gradient_checkpointing,
    ...(layers && { checkpointed_layers: layers }),
  };
}
