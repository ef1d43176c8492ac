// TrainingArguments' fsdp / fsdp_config spellings (transformers 5.18's _process_fsdp_args): FULL_SHARD maps onto
// zero_stage 3 and SHARD_GRAD_OP onto 2 with a note, NO_SHARD onto 0 (DDP); hybrid sharding, offload, unknown keys
// and what stage 3 cannot run with are refused at config load naming the key and why; fsdp_config keys that change
// nothing are noted.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsdpPlan, zeroStageNotes } from '../../src/config/fsdp.js';
import { resolveConfig } from '../../src/config/load-config.js';
import { tempDir } from '../helpers/fixtures.js';

const dpo = (values: Record<string, unknown>) => resolveConfig({ trainer: 'dpo', ...values }, 'r.yaml');

describe('fsdp spellings', () => {
  it('shard_grad_op in every form TrainingArguments accepts runs as zero_stage 2', () => {
    const path = join(tempDir('fsdp-config'), 'fsdp.json');
    writeFileSync(path, JSON.stringify({ fsdp_reshard_after_forward: false, fsdp_version: 2 }));
    for (const values of [
      { fsdp: 'shard_grad_op' },
      { fsdp: 'shard_grad_op auto_wrap' },
      { fsdp: ['shard_grad_op', 'auto_wrap'] },
      { fsdp: true, fsdp_config: { reshard_after_forward: false } },
      { fsdp: true, fsdp_config: path },
      { fsdp: 'shard_grad_op', fsdp_config: { version: 1 }, zero_stage: 2 },
      // FSDP1: reshard_after_forward holds the strategy's name; an explicit one wins over the fsdp item.
      { fsdp: 'full_shard', fsdp_config: { version: 1, reshard_after_forward: 'shard_grad_op' } },
    ]) {
      expect(dpo(values).zero_stage, JSON.stringify(values)).toBe(2);
    }
    expect(fsdpPlan('shard_grad_op auto_wrap', { transformer_layer_cls_to_wrap: ['LlamaDecoderLayer'] }).notes).toEqual(
      [
        'note: fsdp: "shard_grad_op auto_wrap" runs as zero_stage: 2 (FSDP SHARD_GRAD_OP = ZeRO-2: each rank keeps the averaged gradients and AdamW state of its share of the parameters; parameters stay whole on every rank)',
        "note: fsdp: auto_wrap has no effect in alignkit: alignkit's ZeRO shards whole parameters and reduces gradients in ddp_bucket_cap_mb buckets, so there are no wrapped units to choose",
        'note: fsdp_config.transformer_layer_cls_to_wrap: ["LlamaDecoderLayer"] has no effect in alignkit: alignkit\'s ZeRO shards whole parameters and reduces gradients in ddp_bucket_cap_mb buckets, so there are no wrapped units to choose',
      ],
    );
  });

  it('full_shard in every form TrainingArguments accepts runs as zero_stage 3', () => {
    const path = join(tempDir('fsdp-config'), 'fsdp3.json');
    writeFileSync(path, JSON.stringify({ fsdp_reshard_after_forward: true, fsdp_version: 2 }));
    for (const values of [
      { fsdp: true },
      { fsdp: 'full_shard' },
      { fsdp: 'full_shard auto_wrap' },
      { fsdp: ['full_shard', 'auto_wrap'] },
      { fsdp: true, fsdp_config: { reshard_after_forward: true } },
      { fsdp: true, fsdp_config: path },
      { fsdp: 'full_shard', fsdp_config: { version: 1 }, zero_stage: 3 },
      { fsdp: 'shard_grad_op', fsdp_config: { version: 1, reshard_after_forward: 'FULL_SHARD' } },
      { fsdp: 'full_shard', fsdp_config: { activation_checkpointing: true } },
      { zero_stage: 3 },
    ]) {
      expect(dpo(values).zero_stage, JSON.stringify(values)).toBe(3);
    }
    expect(
      fsdpPlan('full_shard', {
        transformer_layer_cls_to_wrap: ['LlamaDecoderLayer'],
        backward_prefetch: 'BACKWARD_PRE',
      }).notes,
    ).toEqual([
      'note: fsdp: "full_shard" runs as zero_stage: 3 (FSDP FULL_SHARD = ZeRO-3: each rank keeps 1/world size of every parameter, its averaged gradient and AdamW state; each decoder layer is gathered for its forward and again for its recomputed backward)',
      'note: fsdp_config.transformer_layer_cls_to_wrap: ["LlamaDecoderLayer"] has no effect in alignkit: alignkit\'s ZeRO-3 wraps each decoder layer as one unit and the embedding, final norm and lm_head as the root unit, as transformer_layer_cls_to_wrap: [<the model\'s decoder layer>] does',
      "note: fsdp_config.backward_prefetch: \"BACKWARD_PRE\" has no effect in alignkit: alignkit's ZeRO-3 always prefetches one unit ahead: the next layer's all-gather while a layer runs forward (forward_prefetch) and the previous one's while a layer is recomputed in backward (BACKWARD_PRE)",
    ]);
  });

  it('zero_stage 3 notes that every layer is recomputed, whatever gradient checkpointing says', () => {
    expect(zeroStageNotes(dpo({ zero_stage: 2 }))).toEqual([]);
    expect(zeroStageNotes(dpo({ zero_stage: 3, gradient_checkpointing: true }))).toEqual([]);
    expect(zeroStageNotes(dpo({ zero_stage: 3, gradient_checkpointing: false }))[0]).toMatch(
      /^note: zero_stage 3 recomputes every decoder layer in backward .* gradient_checkpointing: false has no effect there/,
    );
    expect(
      zeroStageNotes({
        zero_stage: 3,
        gradient_checkpointing: true,
        activation_memory_budget: 0.5,
        gradient_checkpointing_kwargs: { every_n_layers: 2 },
      }),
    ).toEqual([
      'note: activation_memory_budget and gradient_checkpointing_kwargs.every_n_layers have no effect with zero_stage 3 over several processes: every decoder layer is recomputed, so that its backward gathers it again',
    ]);
  });

  it('no_shard is DDP; unset fsdp leaves zero_stage, and fsdp_config alone is only noted', () => {
    expect(dpo({ fsdp: 'no_shard', fsdp_config: { version: 1 } }).zero_stage).toBe(0);
    expect(dpo({ zero_stage: 1, fsdp: null }).zero_stage).toBe(1);
    expect(dpo({ fsdp_config: { min_num_params: 1 } }).zero_stage).toBe(0);
    expect(fsdpPlan(null, { min_num_params: 1 }).notes).toEqual([
      'note: fsdp_config has no effect in alignkit without fsdp (transformers reads it only with fsdp set)',
    ]);
  });

  it('hybrid sharding, offload, unknown options and keys, a disagreeing zero_stage and what stage 3 cannot run with are refused naming why', () => {
    for (const [values, reason] of [
      [
        { fsdp: 'full_shard', use_peft: true },
        /use_peft: true with zero_stage 3 \(fsdp: full_shard\) is not supported/,
      ],
      [{ zero_stage: 3, sync_ref_model: true }, /sync_ref_model: true with zero_stage 3 .* is not supported/],
      [{ fsdp: 'full_shard', zero_stage: 2 }, /means zero_stage: 3, but the config sets zero_stage: 2; keep one/],
      [{ zero_stage: 4 }, /zero_stage: expected 0, 1, 2 or 3, got 4/],
      [
        { fsdp: 'hybrid_shard' },
        /only available with FSDP1 .*hybrid_shard \(shard within a node, replicate across nodes\)/,
      ],
      [{ fsdp: 'hybrid_shard_zero2', fsdp_config: { version: 1 } }, /hybrid_shard_zero2 \(shard within a node/],
      [{ fsdp: 'shard_grad_op offload' }, /fsdp: offload is not supported: CPU offload/],
      [{ fsdp: 'shard_grad_op', fsdp_config: { cpu_offload: true } }, /fsdp_config.cpu_offload: true is not supported/],
      [{ fsdp: 'shard_grad_op', fsdp_config: { activation_checkpointing: true } }, /use gradient_checkpointing: true/],
      [{ fsdp: 'shard_grad_op', fsdp_config: { sharding: 1 } }, /fsdp_config.sharding: not an fsdp_config key/],
      [{ fsdp: 'shard_everything' }, /fsdp: unknown option "shard_everything"/],
      [{ fsdp: 'shard_grad_op', zero_stage: 1 }, /means zero_stage: 2, but the config sets zero_stage: 1; keep one/],
    ] as const) {
      expect(() => dpo(values), JSON.stringify(values)).toThrow(reason);
      expect(() => dpo(values)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }));
    }
    expect(() => resolveConfig({ trainer: 'online_dpo', fsdp: 'full_shard' }, 'r.yaml')).toThrow(
      /trainer online_dpo with zero_stage 3 \(fsdp: full_shard\) is not supported: its generation and its final save/,
    );
    expect(resolveConfig({ trainer: 'kto', fsdp: 'full_shard' }, 'r.yaml').zero_stage).toBe(3);
  });
});
