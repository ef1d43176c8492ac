// TrainingArguments' `fsdp` / `fsdp_config` spellings mapped onto alignkit's ZeRO stages, as transformers 5.18
// reads them (TrainingArguments._process_fsdp_args and _apply_legacy_fsdp_to_config): the legacy string or list of
// FSDPOption items becomes fsdp_config's reshard_after_forward (FSDP2: full_shard → true, shard_grad_op → false;
// FSDP1: the strategy's name), an explicit fsdp_config value winning, and `fsdp: true` alone shards fully.
// FULL_SHARD (parameters, gradients and optimizer state sharded; each decoder layer gathered for its forward and
// backward) is ZeRO stage 3; SHARD_GRAD_OP (parameters whole on every rank) is ZeRO stage 2; NO_SHARD is DDP
// (zero_stage 0). Hybrid sharding and CPU offload are refused with the reason.
import { readFileSync } from 'node:fs';
import { configError } from '../errors.js';

const HYBRID =
  'alignkit shards over every rank of the job (fsdp: full_shard is zero_stage 3, shard_grad_op zero_stage 2); sharding within a node and replicating across nodes is not implemented';
const STRATEGIES = ['full_shard', 'shard_grad_op', 'no_shard', 'hybrid_shard', 'hybrid_shard_zero2'] as const;
const ITEMS = [...STRATEGIES, 'offload', 'auto_wrap'];

const PER_PARAMETER =
  "alignkit's ZeRO shards whole parameters and reduces gradients in ddp_bucket_cap_mb buckets, so there are no wrapped units to choose";
const PER_LAYER =
  "alignkit's ZeRO-3 wraps each decoder layer as one unit and the embedding, final norm and lm_head as the root unit, as transformer_layer_cls_to_wrap: [<the model's decoder layer>] does";
const PREFETCH =
  "alignkit's ZeRO-3 always prefetches one unit ahead: the next layer's all-gather while a layer runs forward (forward_prefetch) and the previous one's while a layer is recomputed in backward (BACKWARD_PRE)";
/** fsdp_config keys that change nothing in alignkit, with why (shard_grad_op's reason, full_shard's). */
const NO_EFFECT: Record<string, string | [string, string]> = {
  version: 'FSDP1 and FSDP2 map onto the same ZeRO stage',
  min_num_params: [PER_PARAMETER, PER_LAYER],
  transformer_layer_cls_to_wrap: [PER_PARAMETER, PER_LAYER],
  auto_wrap_policy: [PER_PARAMETER, PER_LAYER],
  backward_prefetch: [
    'with shard_grad_op every rank holds whole parameters: there are no gathers to prefetch',
    PREFETCH,
  ],
  forward_prefetch: [
    'with shard_grad_op every rank holds whole parameters: there are no gathers to prefetch',
    PREFETCH,
  ],
  limit_all_gathers: [
    'with shard_grad_op every rank holds whole parameters: there are no gathers to rate-limit',
    "alignkit's ZeRO-3 has at most one all-gather in flight beyond the unit in use",
  ],
  use_orig_params: [
    'alignkit never flattens parameters: the originals are always what the optimizer sees',
    "alignkit's ZeRO-3 optimizer sees each parameter's slice under the parameter's own name (weight decay per parameter), as use_orig_params: true",
  ],
  sync_module_states: "alignkit always starts every rank from rank 0's weights (DDP's broadcast)",
  cpu_ram_efficient_loading: 'every rank loads the model and takes rank 0’s weights',
  state_dict_type:
    'alignkit always saves the unsharded HF folder and the full optimizer state (resumable at any world size)',
};
/** fsdp_config keys refused when set to anything but these values, with why. */
const REFUSED: Record<string, { allowed: unknown[]; why: string }> = {
  cpu_offload: { allowed: [false], why: 'CPU offload of parameters, gradients or optimizer state is not implemented' },
  offload_params: { allowed: [false], why: 'CPU offload of parameters is not implemented' },
  activation_checkpointing: {
    allowed: [false],
    why: "FSDP's activation checkpointing is not wired; use gradient_checkpointing: true (the same recomputation)",
  },
  mixed_precision_policy: { allowed: [null], why: 'use bf16: true or fp16: true for mixed precision' },
  xla: { allowed: [false], why: 'alignkit has no XLA backend' },
  xla_fsdp_v2: { allowed: [false], why: 'alignkit has no XLA backend' },
  xla_fsdp_grad_ckpt: { allowed: [false], why: 'alignkit has no XLA backend' },
};

export interface FsdpPlan {
  /** The ZeRO stage the spelling maps to, or null when fsdp is off. */
  zeroStage: 0 | 2 | 3 | null;
  /** One line each, printed when training starts. */
  notes: string[];
}

const shown = (value: unknown) => JSON.stringify(value);

/** What `fsdp` and `fsdp_config` come to; throws ERR_INVALID_CONFIG naming the key for what alignkit refuses. */
export function fsdpPlan(fsdp: unknown, fsdpConfig: unknown, where = 'config'): FsdpPlan {
  const off =
    fsdp === null || fsdp === undefined || fsdp === false || fsdp === '' || (Array.isArray(fsdp) && !fsdp.length);
  if (off) {
    const unset = fsdpConfig === null || fsdpConfig === undefined;
    return {
      zeroStage: null,
      notes: unset
        ? []
        : [`note: fsdp_config has no effect in alignkit without fsdp (transformers reads it only with fsdp set)`],
    };
  }
  const items = itemsOf(fsdp, where);
  const config = configOf(fsdpConfig, where);
  const notes: string[] = [];
  // _apply_legacy_fsdp_to_config: each strategy item sets reshard_after_forward unless fsdp_config already does.
  const version = config.version ?? 2;
  if (version !== 1 && version !== 2)
    throw configError(where, `fsdp_config.version: expected 1 or 2, got ${shown(version)}`);
  let reshard: unknown = config.reshard_after_forward;
  for (const item of items) {
    if ((STRATEGIES as readonly string[]).includes(item)) {
      if (version === 2 && item !== 'full_shard' && item !== 'shard_grad_op')
        throw configError(
          where,
          `fsdp: ${item} is only available with FSDP1 in transformers (fsdp_config.version: 1)` +
            (item.startsWith('hybrid') ? `; and ${hybrid(item)}` : ''),
        );
      reshard ??= version === 2 ? item === 'full_shard' : item;
    } else if (item === 'offload') {
      throw configError(where, `fsdp: offload is not supported: ${REFUSED.cpu_offload!.why}`);
    } else if (item === 'auto_wrap') {
      notes.push(`note: fsdp: auto_wrap has no effect in alignkit: ${PER_PARAMETER}`);
    }
  }
  // Transformers' defaults: FSDP2 reshards after forward (full shard), FSDP1's strategy is full_shard.
  reshard ??= version === 2 ? true : 'full_shard';
  const strategy =
    reshard === true ? 'full_shard' : reshard === false ? 'shard_grad_op' : String(reshard).toLowerCase();
  if (strategy.startsWith('hybrid')) throw configError(where, `fsdp: ${shown(fsdp)}: ${hybrid(strategy)}`);
  if (strategy !== 'full_shard' && strategy !== 'shard_grad_op' && strategy !== 'no_shard')
    throw configError(
      where,
      `fsdp_config.reshard_after_forward: expected true, false or one of ${STRATEGIES.join(', ')}, got ${shown(reshard)}`,
    );
  for (const [key, value] of Object.entries(config)) {
    if (key === 'reshard_after_forward') continue;
    const refusal = REFUSED[key];
    if (key === 'activation_checkpointing' && value === true && strategy === 'full_shard') {
      notes.push(
        'note: fsdp_config.activation_checkpointing: true has no effect in alignkit: zero_stage 3 recomputes every decoder layer in backward anyway',
      );
    } else if (refusal) {
      if (!refusal.allowed.some((v) => v === value))
        throw configError(where, `fsdp_config.${key}: ${shown(value)} is not supported: ${refusal.why}`);
    } else if (NO_EFFECT[key] !== undefined) {
      const why = NO_EFFECT[key];
      const reason = typeof why === 'string' ? why : why[strategy === 'full_shard' ? 1 : 0];
      notes.push(`note: fsdp_config.${key}: ${shown(value)} has no effect in alignkit: ${reason}`);
    } else {
      throw configError(where, `fsdp_config.${key}: not an fsdp_config key transformers reads`);
    }
  }
  const zeroStage = strategy === 'full_shard' ? 3 : strategy === 'shard_grad_op' ? 2 : 0;
  notes.unshift(
    zeroStage === 3
      ? `note: fsdp: ${shown(fsdp)} runs as zero_stage: 3 (FSDP FULL_SHARD = ZeRO-3: each rank keeps 1/world size of every parameter, its averaged gradient and AdamW state; each decoder layer is gathered for its forward and again for its recomputed backward)`
      : zeroStage === 2
        ? `note: fsdp: ${shown(fsdp)} runs as zero_stage: 2 (FSDP SHARD_GRAD_OP = ZeRO-2: each rank keeps the averaged gradients and AdamW state of its share of the parameters; parameters stay whole on every rank)`
        : `note: fsdp: ${shown(fsdp)} (NO_SHARD) runs as zero_stage: 0, DistributedDataParallel, which it is`,
  );
  return { zeroStage, notes };
}

function hybrid(strategy: string): string {
  return `${strategy} (shard within a node, replicate across nodes) is not supported: ${HYBRID}`;
}

function itemsOf(fsdp: unknown, where: string): string[] {
  if (fsdp === true) return [];
  const items = typeof fsdp === 'string' ? fsdp.split(/\s+/).filter(Boolean) : fsdp;
  if (!Array.isArray(items) || !items.every((item) => typeof item === 'string'))
    throw configError(where, `fsdp: expected true, a string of FSDP options or a list of them, got ${shown(fsdp)}`);
  for (const item of items)
    if (!ITEMS.includes(item))
      throw configError(where, `fsdp: unknown option ${shown(item)} (one of ${ITEMS.join(', ')})`);
  return items;
}

/** fsdp_config as a mapping (a path is read as JSON, as transformers does), its `fsdp_` prefixes dropped. */
function configOf(fsdpConfig: unknown, where: string): Record<string, unknown> {
  let value: unknown = fsdpConfig ?? {};
  if (typeof value === 'string') {
    try {
      value = JSON.parse(readFileSync(value, 'utf8')) as unknown;
    } catch (err) {
      throw configError(
        where,
        `fsdp_config: ${shown(fsdpConfig)} is not a readable JSON file (${(err as Error).message})`,
      );
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw configError(where, `fsdp_config: expected a mapping or a JSON file's path, got ${shown(fsdpConfig)}`);
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key.startsWith('fsdp_') ? key.slice(5) : key, v] as const),
  );
}

/**
 * Checks zero_stage and sets it from fsdp (before any work); `given` is the config as written, so an explicit
 * zero_stage that disagrees is an error.
 */
export function applyFsdp(
  config: { zero_stage: number; fsdp?: unknown; fsdp_config?: unknown },
  given: Record<string, unknown>,
  where: string,
): void {
  if (config.zero_stage > 3) throw configError(where, `zero_stage: expected 0, 1, 2 or 3, got ${config.zero_stage}`);
  const { zeroStage } = fsdpPlan(config.fsdp, config.fsdp_config, where);
  if (zeroStage !== null) {
    if ('zero_stage' in given && given.zero_stage !== zeroStage)
      throw configError(
        where,
        `fsdp: ${shown(config.fsdp)} means zero_stage: ${zeroStage}, but the config sets zero_stage: ${shown(given.zero_stage)}; keep one`,
      );
    config.zero_stage = zeroStage;
  }
  if (config.zero_stage === 3) refuseWithZero3(config as unknown as Record<string, unknown>, where);
}

/** What zero_stage 3 cannot run with, refused before any work. */
function refuseWithZero3(config: Record<string, unknown>, where: string): void {
  if (config.trainer === 'online_dpo')
    throw configError(
      where,
      'trainer online_dpo with zero_stage 3 (fsdp: full_shard) is not supported: its generation and its final save are not wired to the sharded policy; use zero_stage 2',
    );
  if (config.use_peft === true)
    throw configError(
      where,
      'use_peft: true with zero_stage 3 (fsdp: full_shard) is not supported: alignkit does not shard the frozen base weights under LoRA; the adapters are small, so use zero_stage 2',
    );
  if (config.sync_ref_model === true)
    throw configError(
      where,
      "sync_ref_model: true with zero_stage 3 (fsdp: full_shard) is not supported: the policy's weights are sharded over the ranks, and mixing them into the reference is not implemented",
    );
}

/** One line each, printed when training starts: what zero_stage 3 changes beyond the config's words. */
export function zeroStageNotes(config: {
  zero_stage: number;
  gradient_checkpointing?: unknown;
  gradient_checkpointing_kwargs?: unknown;
  activation_memory_budget?: unknown;
}): string[] {
  if (config.zero_stage !== 3) return [];
  const notes: string[] = [];
  if (config.gradient_checkpointing !== true)
    notes.push(
      'note: zero_stage 3 recomputes every decoder layer in backward (as gradient_checkpointing: true) when it shards over several processes, so that the backward gathers each layer again instead of keeping it; gradient_checkpointing: false has no effect there (one process trains unsharded)',
    );
  const kwargs = config.gradient_checkpointing_kwargs as { every_n_layers?: unknown } | null | undefined;
  const partial = [
    ...(config.activation_memory_budget !== null && config.activation_memory_budget !== undefined
      ? ['activation_memory_budget']
      : []),
    ...(kwargs?.every_n_layers !== undefined && kwargs.every_n_layers !== 1
      ? ['gradient_checkpointing_kwargs.every_n_layers']
      : []),
  ];
  if (partial.length)
    notes.push(
      `note: ${partial.join(' and ')} ${partial.length > 1 ? 'have' : 'has'} no effect with zero_stage 3 over several processes: every decoder layer is recomputed, so that its backward gathers it again`,
    );
  return notes;
}
