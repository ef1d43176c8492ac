// TrainingArguments' fsdp / fsdp_config spellings (transformers 5.18's _process_fsdp_args): SHARD_GRAD_OP maps onto
// zero_stage 2 with a note, NO_SHARD onto 0 (DDP); full and hybrid sharding, offload and unknown keys are refused at
// config load naming the key and why; fsdp_config keys that change nothing are noted.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsdpPlan } from '../../src/config/fsdp.js';
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

  it('no_shard is DDP; unset fsdp leaves zero_stage, and fsdp_config alone is only noted', () => {
    expect(dpo({ fsdp: 'no_shard', fsdp_config: { version: 1 } }).zero_stage).toBe(0);
    expect(dpo({ zero_stage: 1, fsdp: null }).zero_stage).toBe(1);
    expect(dpo({ fsdp_config: { min_num_params: 1 } }).zero_stage).toBe(0);
    expect(fsdpPlan(null, { min_num_params: 1 }).notes).toEqual([
      'note: fsdp_config has no effect in alignkit without fsdp (transformers reads it only with fsdp set)',
    ]);
  });

  it('full and hybrid sharding, offload, unknown options and keys, and a disagreeing zero_stage are refused naming why', () => {
    for (const [values, reason] of [
      [
        { fsdp: true },
        /fsdp: true shards parameters \(FULL_SHARD\), which is not supported: parameter sharding \(ZeRO-3/,
      ],
      [{ fsdp: 'full_shard auto_wrap' }, /FULL_SHARD.*ZeRO-3 \/ FSDP FULL_SHARD\) is not implemented yet/],
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
      [{ zero_stage: 3 }, /zero_stage: 3 is not supported: parameter sharding \(ZeRO-3/],
    ] as const) {
      expect(() => dpo(values), JSON.stringify(values)).toThrow(reason);
      expect(() => dpo(values)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }));
    }
  });
});
