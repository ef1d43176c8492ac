// What would make a plan that does not fit fit: the plan re-estimated with each memory option changed alone (and,
// when none is enough, with all of them), keeping those under the memory available. train() prints them in its
// will-not-fit warning; `alignkit estimate` under its table.
import type { Estimate } from './estimate-config.js';
import { checkpointedLayerCount, memoryPlan, type PlanSettings } from './memory-plan.js';

export interface FitOption {
  /** The config keys to set, as a recipe would write them. */
  change: string;
  total: number;
}

interface Variant {
  /** The change, given the settings it makes. */
  change: string | ((s: PlanSettings) => string);
  applies: (s: PlanSettings) => boolean;
  apply: (s: PlanSettings) => PlanSettings;
}

const VARIANTS: Variant[] = [
  {
    change: 'gradient_checkpointing: true',
    applies: (s) => !s.gradientCheckpointing,
    apply: (s) => ({ ...s, gradientCheckpointing: true, checkpointEveryNLayers: 1, activationMemoryBudget: null }),
  },
  {
    // Already checkpointing part of the layers: all of them.
    change: 'activation_memory_budget: 0 (every layer recomputed)',
    applies: (s) => s.gradientCheckpointing && (s.checkpointEveryNLayers > 1 || (s.activationMemoryBudget ?? 0) > 0),
    apply: (s) => ({ ...s, checkpointEveryNLayers: 1, activationMemoryBudget: 0 }),
  },
  {
    change: 'precompute_ref_log_probs: true',
    applies: (s) => s.reference === 'copy' && !s.precomputeRefLogProbs,
    apply: (s) => ({ ...s, precomputeRefLogProbs: true }),
  },
  {
    change: 'use_peft: true',
    applies: (s) => s.lora === null && s.weightDtype === 'float32',
    apply: (s) => ({
      ...s,
      // PEFT's defaults; DPO's and KTO's disable_dropout turns lora_dropout off.
      lora: { r: 16, targets: ['q_proj', 'v_proj'], dropout: s.trainer === 'sft' ? 0.05 : 0 },
      reference: s.reference === 'copy' ? 'base' : s.reference,
    }),
  },
  {
    change: 'dtype: bfloat16',
    applies: (s) => s.weightDtype === 'float32' && s.lora === null,
    apply: (s) => ({ ...s, weightDtype: 'bfloat16' }),
  },
  {
    // Our float32 forward keeps fewer bytes than the autocast one (the fused norm + projections).
    change: 'bf16: false',
    applies: (s) => s.bf16 && s.weightDtype === 'float32',
    apply: (s) => ({ ...s, bf16: false }),
  },
  {
    change: (s) => `per_device_train_batch_size: ${s.batchSize} (gradient_accumulation_steps raised to keep the batch)`,
    applies: (s) => s.batchSize > 1,
    apply: (s) => ({ ...s, batchSize: Math.max(1, Math.floor(s.batchSize / 2)) }),
  },
  {
    change: (s) => `max_length: ${s.maxLength}`,
    applies: (s) => s.maxLength > 256,
    apply: (s) => ({ ...s, maxLength: Math.floor(s.maxLength / 2) }),
  },
];

/**
 * Checkpointing only as many layers as needed: the fewest that bring the plan under `budget` (each recomputed layer
 * costs time), as the activation_memory_budget that picks them and, when one picks as many, every_n_layers.
 * Null when full checkpointing is needed, does not fit either, or is already set with no partial choice possible.
 */
export function partialCheckpointing(estimate: Pick<Estimate, 'shape' | 'settings'>, budget: number): FitOption | null {
  const layers = estimate.shape.numLayers;
  const current = checkpointedLayerCount(estimate.settings, layers);
  const base = { ...estimate.settings, gradientCheckpointing: true, checkpointEveryNLayers: 1 };
  for (let k = current + 1; k < layers; k++) {
    // The budget to the hundredth whose round((1 - b) x layers) is k: the largest such b (the most kept).
    const memoryBudget = Math.floor((1 - (k - 0.5) / layers) * 100) / 100;
    const settings = { ...base, activationMemoryBudget: memoryBudget };
    if (checkpointedLayerCount(settings, layers) !== k) continue;
    const total = memoryPlan(estimate.shape, settings).total;
    if (total > budget) continue;
    // every_n_layers n recomputes ceil(layers / n): the largest n that gives k, if one does.
    const n = Array.from({ length: layers - 1 }, (_, j) => layers - j).find((m) => Math.ceil(layers / m) === k);
    const change =
      `gradient_checkpointing: true + activation_memory_budget: ${memoryBudget} (${k} of ${layers} layers recomputed)` +
      (n ? ` or gradient_checkpointing_kwargs: {every_n_layers: ${n}}` : '');
    return { change, total };
  }
  return null;
}

/** The options that each alone bring the plan under `budget` (batch and max_length halved); else all together. */
export function fitOptions(estimate: Pick<Estimate, 'shape' | 'settings'>, budget: number): FitOption[] {
  const applicable = VARIANTS.filter((v) => v.applies(estimate.settings));
  const each = applicable.map((v) => {
    const settings = v.apply(estimate.settings);
    const change = typeof v.change === 'string' ? v.change : v.change(settings);
    return { change, total: memoryPlan(estimate.shape, settings).total };
  });
  const fitting = each.filter((o) => o.total <= budget);
  // Partial checkpointing first: it fits at less recomputation than checkpointing every layer.
  const partial = partialCheckpointing(estimate, budget);
  if (partial) fitting.unshift(partial);
  if (fitting.length > 0 || applicable.length < 2) return fitting;
  const all = applicable.reduce((s, v) => v.apply(s), estimate.settings);
  const total = memoryPlan(estimate.shape, all).total;
  return total <= budget ? [{ change: each.map((o) => o.change).join(' + '), total }] : [];
}
