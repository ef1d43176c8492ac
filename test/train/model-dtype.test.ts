// Training bfloat16 weights (model_init_kwargs.dtype / dtype / torch_dtype) against TRL 1.13 on the same bfloat16
// model: 3 steps of DPO, SFT and KTO, recorded by scripts/fixtures/make_trl_dtype_train.py. TRL trains the weights
// in their dtype: gradients and AdamW's moments are bfloat16, and so is the saved model.
//
// Under bf16 autocast (TRL's default) both sides run the same ops in the same dtypes: step 1 holds to 1e-4
// (measured ≤ 1e-7). Later steps: the update of bfloat16 weights rounds each weight to bfloat16, so a gradient that
// differs in its last bits (summation order) can move a weight by one bfloat16 step; torch's single-tensor AdamW
// (optim adamw_torch) then shows it at step 3 (measured 1.7e-3 relative, 2.3e-4 absolute on the vocabulary-mean
// logits ≈ -0.004; fused AdamW, SFT and KTO ≤ 3.3e-5). Bound after step 1: 1e-2 relative, 1e-3 absolute.
// Without autocast (bf16: false) TRL computes the log-softmax, the sequence log-probs and the loss in bfloat16 (its
// logits are in the weights' dtype), alignkit in float32 from the same bfloat16 forward, so TRL's values are
// alignkit's rounded to bfloat16 and summed in it: 2e-2 relative (measured ≤ 8.8e-3) and 2e-3 absolute for the
// vocabulary-mean logits (measured 7.6e-4).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/index.js';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import type { TrainConfig } from '../../src/types/config-types.js';

interface Case {
  name: string;
  trainer: 'dpo' | 'sft' | 'kto';
  config: Record<string, unknown>;
  rows: Record<string, unknown>[];
  log_history: LogEntry[];
  saved_dtypes: string[];
}
const { cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dtype-train.json'), 'utf8')) as { cases: Case[] };

function configFor(c: Case, dir: string): TrainConfig {
  const data = join(dir, 'rows.jsonl');
  writeFileSync(data, c.rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
  return {
    trainer: c.trainer,
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    gradient_checkpointing: false,
    save_strategy: 'no',
    use_cpu: true,
    // TRL recorded its default (false); unwritten, alignkit precomputes when the data is reused (auto-precompute.ts).
    ...(c.trainer === 'sft' ? {} : { precompute_ref_log_probs: false }),
    ...c.config,
  } as TrainConfig;
}

const storedDtypes = async (path: string, keep: (name: string) => boolean = () => true) =>
  [
    ...new Set([...(await readSafetensors(path)).tensors].filter(([name]) => keep(name)).map(([, t]) => t.dtype)),
  ].sort();

describe('bfloat16 weights train as TRL trains them', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const config = configFor(c, tempDir(`dtype-${c.name}`));
    const { logHistory } = await train(config, { log: () => {} });
    const logs = logHistory.slice(0, -1);
    expect(logs.length).toBe(c.log_history.length);
    logs.forEach((entry, i) => {
      const [rel, abs] = !c.config.bf16 ? [2e-2, 2e-3] : entry.step === 1 ? [1e-4, 1e-6] : [1e-2, 1e-3];
      expectLogEntryClose(entry, c.log_history[i]!, rel, abs);
    });
    const out = config.output_dir as string;
    expect(await storedDtypes(join(out, 'model.safetensors'))).toEqual(c.saved_dtypes);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).dtype).toBe('bfloat16');
  });

  it('a checkpoint holds bfloat16 AdamW moments, as torch keeps them, and resuming from it continues exactly', async () => {
    const c = cases.find((x) => x.name === 'dpo_bfloat16_autocast')!;
    const config: TrainConfig = {
      ...configFor(c, tempDir('dtype-checkpoint')),
      save_strategy: 'steps',
      save_steps: 2,
    };
    const uninterrupted = await train(config, { log: () => {} });
    const checkpoint = join(config.output_dir as string, 'checkpoint-2');
    const optimizer = join(checkpoint, 'optimizer.safetensors');
    expect(await storedDtypes(optimizer, (name) => name.endsWith('.exp_avg') || name.endsWith('.exp_avg_sq'))).toEqual([
      'BF16',
    ]);
    const resumed = await train(
      { ...config, output_dir: join(tempDir('dtype-resumed'), 'out'), resume_from_checkpoint: checkpoint },
      { log: () => {} },
    );
    expect(withoutTimings(resumed.logHistory)).toEqual(withoutTimings(uninterrupted.logHistory));
  });

  it('the top-level dtype and its old name torch_dtype load the weights as model_init_kwargs.dtype does', async () => {
    const c = cases.find((x) => x.name === 'dpo_bfloat16_autocast')!;
    const { model_init_kwargs: _, ...config } = c.config;
    const runs = [];
    for (const key of ['dtype', 'torch_dtype']) {
      const { logHistory } = await train(
        { ...configFor({ ...c, config }, tempDir(`dtype-${key}`)), [key]: 'bfloat16' } as TrainConfig,
        { log: () => {} },
      );
      runs.push(withoutTimings(logHistory));
      logHistory
        .slice(0, -1)
        .forEach((entry, i) => expectLogEntryClose(entry, c.log_history[i]!, entry.step === 1 ? 1e-4 : 1e-2, 1e-3));
    }
    expect(runs[1]).toEqual(runs[0]);
  });
});
