// ref_model_dtype (src/train/reference-dtype.ts): DPO and KTO hold their frozen reference in that dtype. null and the
// policy's own dtype load it as TRL does (the same logs); bfloat16 moves the reference's log-probs by bfloat16
// rounding only (bounded here against the float32 reference on the fixture pairs), so step 1's loss and rewards move
// by that much times beta; refused with sync_ref_model, a note with PEFT.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model.js';
import { train } from '../../src/train/train-from-config.js';
import type { TrainConfig } from '../../src/types/config-types.js';
import { fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';

const { batch } = JSON.parse(readFileSync(join(fixturesDir, 'reference', 'dpo-loss.json'), 'utf8')) as {
  batch: { input_ids: number[][]; attention_mask: number[][]; completion_mask: number[][] };
};

/** One step on the 8 fixture rows, from llama-ref (a reference far enough from its rounding to matter). */
function configFor(trainer: 'dpo' | 'kto', name: string, extra: Record<string, unknown> = {}): TrainConfig {
  return {
    trainer,
    model_name_or_path: modelDir('llama-ref'),
    train_dataset: join(fixturesDir, 'trl', trainer === 'kto' ? 'kto-train.jsonl' : 'dpo-train.jsonl'),
    output_dir: join(tempDir(`ref-dtype-${name}`), 'out'),
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    use_cpu: true,
    max_steps: 1,
    logging_steps: 1,
    per_device_train_batch_size: 8,
    learning_rate: 1e-3,
    ...extra,
  } as TrainConfig;
}

async function run(config: TrainConfig) {
  const notes: string[] = [];
  const { logHistory } = await train(config, { log: (message) => notes.push(message) });
  return { step1: withoutTimings(logHistory as Record<string, number>[])[0]!, notes };
}

// The bound on |Δ| of a sequence's summed log-prob: bfloat16 keeps 8 bits of mantissa (relative 2^-9 per rounding)
// on weights and activations; measured 0.059 on these rows, whose log-probs are about -25 (docs/training.md).
const MAX_LOGP_DELTA = 0.2;

describe('ref_model_dtype', () => {
  it("a bfloat16 reference's per-sequence log-probs are the float32 reference's within bfloat16 rounding", async () => {
    const [fp32, bf16] = await Promise.all([
      loadModel(modelDir('llama-ref')),
      loadModel(modelDir('llama-ref'), { dtype: 'bfloat16' }),
    ]);
    expect(bf16.config.dtype).toBe('bfloat16');
    const logps = async (m: typeof fp32) =>
      (await m.completionLogProbs(batch.input_ids, batch.attention_mask, batch.completion_mask)).logps;
    const [a, b] = [await logps(fp32), await logps(bf16)];
    const delta = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    expect(delta).toBeGreaterThan(0);
    expect(delta).toBeLessThan(MAX_LOGP_DELTA);
  });

  it.each(['dpo', 'kto'] as const)('%s: bfloat16 moves step 1 by that rounding; float32 is the default', async (t) => {
    const base = await run(configFor(t, `${t}-null`));
    const fp32 = await run(configFor(t, `${t}-fp32`, { ref_model_dtype: 'float32' }));
    const bf16 = await run(configFor(t, `${t}-bf16`, { ref_model_dtype: 'bfloat16' }));
    expect(fp32.step1).toEqual(base.step1);
    expect(bf16.step1.loss).not.toBe(base.step1.loss);
    // rewards = beta (0.1) · (policy − reference) log-probs: moved by at most beta · the log-prob bound.
    for (const key of ['loss', 'rewards/chosen', 'rewards/rejected'] as const)
      expect(Math.abs(bf16.step1[key]! - base.step1[key]!), key).toBeLessThan(0.1 * MAX_LOGP_DELTA);
    // The policy's own values do not move.
    expect(bf16.step1['logps/chosen']).toBe(base.step1['logps/chosen']);
  });

  it('with precompute_ref_log_probs the one pass runs the bfloat16 reference', async () => {
    const pre = (extra: object) => configFor('dpo', 'pre', { precompute_ref_log_probs: true, ...extra });
    const [fp32, bf16] = [await run(pre({})), await run(pre({ ref_model_dtype: 'bfloat16' }))];
    expect(bf16.step1.loss).not.toBe(fp32.step1.loss);
    expect(Math.abs(bf16.step1.loss! - fp32.step1.loss!)).toBeLessThan(0.1 * MAX_LOGP_DELTA);
  });

  it('is refused with sync_ref_model (TR-DPO mixes the policy into the reference) at config load', async () => {
    for (const t of ['dpo', 'kto'] as const)
      await expect(
        train(configFor(t, `${t}-sync`, { sync_ref_model: true, ref_model_dtype: 'bfloat16' })),
      ).rejects.toThrow(/ref_model_dtype: bfloat16 cannot be combined with sync_ref_model/);
  });

  it('has no effect with PEFT (the reference is the base with adapters off): one note', async () => {
    const { notes } = await run(configFor('dpo', 'peft', { use_peft: true, ref_model_dtype: 'bfloat16' }));
    expect(notes.filter((n) => /ref_model_dtype: bfloat16 has no effect with PEFT/.test(n))).toHaveLength(1);
  });
});
