// `alignkit estimate`'s output: the plan as a readable table (and the will-not-fit line train() prints), or as JSON.
import type { Estimate } from './estimate-config.js';
import { fitOptions } from './fit-advice.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

export function bytes(n: number): string {
  return n >= GiB ? `${(n / GiB).toFixed(2)} GiB` : `${(n / MiB).toFixed(0)} MiB`;
}

const millions = (n: number) => `${(n / 1e6).toFixed(1)}M`;

/** The one-line warning train() prints when the plan exceeds the memory available, with what would fit. */
export function wontFitLine(estimate: Estimate): string | null {
  const available = estimate.available.available;
  if (available === null || estimate.plan.total <= available) return null;
  const options = fitOptions(estimate, available);
  return (
    `warning: this run is estimated to need ${bytes(estimate.plan.total)} of ${estimate.available.device === 'cuda' ? 'GPU' : ''}` +
    `${estimate.available.device === 'cuda' ? ' ' : ''}memory, ${bytes(available)} is available (alignkit estimate shows the plan); ` +
    (options.length > 0
      ? `it would fit with ${options.map((o) => `${o.change} (${bytes(o.total)})`).join(', or ')}`
      : 'no single memory option makes it fit')
  );
}

type Row = [string, number | null, string];

export function formatEstimate(e: Estimate): string {
  const { plan, settings: s, shape } = e;
  const lines: string[] = [];
  const unit = (s.trainer === 'dpo' || s.trainer === 'online_dpo' ? 'pair' : 'row') + (s.batchSize === 1 ? '' : 's');
  lines.push(
    `${s.trainer} on ${e.model}: ${shape.modelType}, ${millions(plan.parameters)} parameters, ` +
      `${millions(plan.trainableParameters)} trainable${s.lora ? ` (LoRA r ${s.lora.r} on ${s.lora.targets.join(', ')})` : ''}`,
  );
  lines.push(
    `settings: ${s.weightDtype} weights${s.bf16 ? ', bf16 autocast' : ''}, gradient checkpointing ${s.gradientCheckpointing ? `on (${plan.activations.checkpointedLayers} of ${shape.numLayers} layers)` : 'off'}, ` +
      `${s.batchSize} ${unit} x ${s.maxLength} tokens (${plan.sequences} sequences, ${plan.tokens} tokens per forward), ` +
      `device ${s.device}${s.worldSize > 1 ? `, world size ${s.worldSize}, zero_stage ${s.zeroStage}` : ''}`,
  );
  lines.push('');
  const sharded = (stage: number) => s.zeroStage >= stage && s.worldSize > 1;
  const rows: Row[] = [
    [
      'weights',
      plan.weights,
      `${s.weightDtype}${s.lora ? ', adapters included' : ''}${sharded(3) ? `, 1/${s.worldSize} + two gathered units (ZeRO-3)` : ''}`,
    ],
    [
      'gradients',
      plan.gradients,
      'made in backward, freed after each optimizer step' +
        (sharded(2)
          ? `; the owned 1/${s.worldSize} and ${sharded(3) ? "one layer's and two flat units in flight (ZeRO-3)" : 'the bucket being reduced (ZeRO-2)'}`
          : ''),
    ],
    ...(plan.gradientBuckets > 0
      ? [['DDP gradient buckets', plan.gradientBuckets, 'flat copies of the gradients, kept between steps'] as Row]
      : []),
    [
      'optimizer (AdamW)',
      plan.optimizer,
      `2 states in ${s.weightDtype}${sharded(1) ? `, 1/${s.worldSize} (ZeRO-${Math.min(s.zeroStage, 3)})` : ''}`,
    ],
    [
      'reference model',
      plan.reference,
      s.reference === 'none'
        ? 'none (SFT)'
        : s.reference === 'base'
          ? 'the policy with its adapters off: no copy'
          : s.precomputeRefLogProbs
            ? `${bytes(plan.referenceFreedAfterPrecompute)} until its log-probs are precomputed, then freed`
            : `a second copy of the weights${s.referenceDtype ? ` in ${s.referenceDtype} (ref_model_dtype)` : ''}`,
    ],
    [
      'autocast weight cache',
      plan.autocastCache,
      s.bf16 ? 'bf16 copies of the trained layers, during each forward' : 'no autocast',
    ],
    [
      'activations',
      plan.activations.planned,
      `${plan.activations.checkpointedLayers} of ${shape.numLayers} layers checkpointed`,
    ],
    ['  with checkpointing', plan.activations.withCheckpointing, 'the layer inputs only'],
    ['  without checkpointing', plan.activations.withoutCheckpointing, 'every layer as below'],
    [
      'backward working set',
      plan.backwardWorkspace,
      "the larger of the loss head's (logits tiles) and one layer's (recomputed, gradients in flight)",
    ],
    ['runtime', plan.runtime, s.device === 'cuda' ? 'CUDA context' : 'Node, libtorch, tokenizer and data'],
    [
      'loading',
      plan.loading,
      'before step 1: the policy, its AdamW states, the reference and the file being read (its mapped pages)',
    ],
    [
      'peak (estimated)',
      plan.total,
      'the larger of loading and runtime + weights + optimizer + reference + buckets + max(activations + working set, gradients)',
    ],
    [
      `available (${e.available.device})`,
      e.available.available,
      `${e.available.source}${e.available.total !== null ? `; ${bytes(e.available.total)} total` : ''}`,
    ],
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  for (const [name, value, note] of rows)
    lines.push(`${name.padEnd(width)}${(value === null ? 'unknown' : bytes(value)).padStart(11)}   ${note}`);
  lines.push('');
  lines.push(
    e.fits === null
      ? 'fits: unknown (the device memory could not be read)'
      : e.fits
        ? `fits: yes (${bytes(e.available.available! - plan.total)} to spare)`
        : `fits: NO, ${bytes(plan.total - e.available.available!)} short`,
  );
  if (e.fits === false) {
    const options = fitOptions(e, e.available.available!);
    lines.push(
      options.length > 0
        ? `it would fit with: ${options.map((o) => `${o.change} (${bytes(o.total)})`).join('; or ')}`
        : 'no memory option alone or together makes it fit here',
    );
  }
  lines.push(
    `logits avoided by the fused log-prob kernel: ${bytes(plan.logitsAvoided)} ((${plan.tokens} tokens, ${shape.vocabSize} vocab) logits and log-softmax of a plain lm_head + log_softmax)`,
  );
  lines.push('');
  lines.push('saved per decoder layer for backward (bytes per token):');
  for (const t of plan.layerSaved) lines.push(`  ${t.name.padEnd(58)}${String(t.bytesPerToken).padStart(8)}`);
  return lines.join('\n');
}

export function estimateJson(e: Estimate): Record<string, unknown> {
  return {
    model: e.model,
    shape: e.shape,
    settings: e.settings,
    plan: e.plan,
    available: e.available,
    fits: e.fits,
    fitOptions: e.fits === false ? fitOptions(e, e.available.available!) : [],
  };
}
