// Data-parallel training, 2 worker processes on loopback (Gloo) launched by the built CLI (`alignkit train
// --nproc_per_node 2`), against one process: 2 processes × batch 4 log the same values at every step as 1 process
// × batch 8 (relative 1e-5) — the loss, grad_norm and every TRL metric gathered across ranks — because the two
// shards of each 8-row batch are its halves (shard-batches.test.ts), gradients are averaged, and metrics are the
// gathered sums over counts; with zero_stage 1 too, each rank stepping AdamW for its share of the parameters, and
// with zero_stage 2 (or its spelling fsdp: shard_grad_op), each rank keeping only its share's gradients. One
// process is itself TRL's parity (dpo-train, sft-train, kto-train tests).
// Then the faults: a killed worker ends the job with an error naming it; a checkpoint of 2 processes resumes on 1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { launch } from '../../src/distributed/launcher.js';
import { train, type LogEntry } from '../../src/train/train-from-config.js';
import type { TrainConfig } from '../../src/types/config-types.js';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

function writeRows(dir: string, file: string, lines: string[]): string {
  const path = join(dir, file);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const pairs = readFileSync(join(fixturesDir, 'trl', 'dpo-train.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .slice(0, 16);
const sftCase = (
  JSON.parse(readFileSync(join(fixturesDir, 'trl', 'sft-train.json'), 'utf8')) as {
    cases: { name: string; rows: object[] }[];
  }
).cases.find((c) => c.name === 'messages')!;

/** A config for `trainer` on the llama fixture; batch: rows per process. */
function configFor(trainer: 'dpo' | 'sft' | 'kto', dir: string, batch: number, extra: Record<string, unknown>) {
  const data =
    trainer === 'dpo'
      ? writeRows(dir, 'pairs.jsonl', pairs)
      : trainer === 'sft'
        ? writeRows(
            dir,
            'rows.jsonl',
            sftCase.rows.map((row) => JSON.stringify(row)),
          )
        : join(fixturesDir, 'trl', 'kto-train.jsonl');
  return {
    trainer,
    model_name_or_path: modelDir('llama'),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    per_device_train_batch_size: batch,
    per_device_eval_batch_size: batch,
    max_steps: 4,
    logging_steps: 1,
    learning_rate: 1e-3,
    bf16: false,
    gradient_checkpointing: false,
    save_strategy: 'no',
    use_cpu: true,
    seed: 42,
    ...(trainer === 'sft' ? { chat_template_path: join(fixturesDir, 'trl', 'sft-train-chatml.jinja') } : {}),
    ...extra,
  };
}

/** `alignkit train config.json --nproc_per_node N` as a user runs it. */
async function alignkitTrain(config: object, dir: string, nproc: number, more: string[] = []) {
  const path = join(dir, `config-${nproc}.json`);
  writeFileSync(path, JSON.stringify(config));
  const args = [
    cli,
    'train',
    path,
    '--nproc_per_node',
    String(nproc),
    '--master_port',
    String(await freePort()),
    ...more,
  ];
  return spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
}

const logsOf = (config: { output_dir: string }): LogEntry[] =>
  readFileSync(join(config.output_dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogEntry);

// total_flos counts input tokens with their padding, and each rank pads its half of a batch to its own longest row.
const comparable = (entries: LogEntry[]) => withoutTimings(entries).map(({ total_flos: _, ...entry }) => entry);

function expectSameLogs(actual: LogEntry[], expected: LogEntry[]) {
  expect(actual.length).toBe(expected.length);
  comparable(actual).forEach((entry, i) => expectLogEntryClose(entry, comparable(expected)[i]!, 1e-5, 1e-7));
}

describe('2 processes × batch 4 train as 1 process × batch 8', () => {
  it.each([
    ['dpo', 'dpo', {}],
    ['dpo, gradient accumulation', 'dpo', { gradient_accumulation_steps: 2 }],
    [
      'dpo, precomputed reference, evaluation',
      'dpo',
      { precompute_ref_log_probs: true, eval_strategy: 'steps', eval_steps: 2 },
    ],
    ['dpo, LoRA', 'dpo', { use_peft: true, lora_r: 4, lora_alpha: 8, lora_dropout: 0, learning_rate: 1e-2 }],
    [
      'dpo, zero_stage 1, gradient accumulation',
      'dpo',
      { zero_stage: 1, gradient_accumulation_steps: 2, weight_decay: 0.1 },
    ],
    ['sft', 'sft', {}],
    ['sft, gradient accumulation', 'sft', { gradient_accumulation_steps: 2 }],
    ['sft, zero_stage 1', 'sft', { zero_stage: 1 }],
    [
      'dpo, zero_stage 2, gradient accumulation',
      'dpo',
      { zero_stage: 2, gradient_accumulation_steps: 2, weight_decay: 0.1, max_grad_norm: 0.5 },
    ],
    ['sft, fsdp shard_grad_op (zero_stage 2)', 'sft', { fsdp: 'shard_grad_op auto_wrap' }],
    ['sft, gradient checkpointing', 'sft', { gradient_checkpointing: true }],
    ['kto (apo_zero_unpaired)', 'kto', { loss_type: 'apo_zero_unpaired' }],
  ] as const)('%s', async (_, trainer, extra) => {
    const dir = tempDir(`ddp-${trainer}`);
    const config = (batch: number, name: string) => {
      const c = configFor(trainer, dir, batch, { ...extra, output_dir: join(dir, name) });
      return 'eval_strategy' in extra ? { ...c, eval_dataset: c.train_dataset } : c;
    };
    const one = config(8, 'one');
    const { logHistory } = await train(one as TrainConfig, { log: () => {} });
    const two = config(4, 'two');
    const job = await alignkitTrain(two, dir, 2);
    expect(job.status, job.stderr).toBe(0);
    expectSameLogs(logsOf(two), logHistory);
    // Rank 0 alone wrote the final model, as a full Hugging Face folder.
    expect(
      existsSync(join(two.output_dir, 'use_peft' in extra ? 'adapter_model.safetensors' : 'model.safetensors')),
    ).toBe(true);
  });
});

describe('gradient averaging', () => {
  it('all-reduces once per optimizer step: accumulation micro-steps keep their gradients local', async () => {
    const dir = tempDir('ddp-syncs');
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify(configFor('dpo', dir, 2, { gradient_accumulation_steps: 2, max_steps: 3 })));
    const worker = join(import.meta.dirname, '..', '..', 'scripts', 'bench', 'ddp-worker.mjs');
    const code = await launch({
      nprocPerNode: 2,
      nnodes: 1,
      nodeRank: 0,
      masterAddr: '127.0.0.1',
      masterPort: await freePort(),
      command: [process.execPath, worker, path, join(dir, 'report')],
    });
    expect(code).toBe(0);
    for (const rank of [0, 1]) {
      const { stats } = JSON.parse(readFileSync(join(dir, `report.${rank}.json`), 'utf8')) as {
        stats: { syncs: number; allReduces: number };
      };
      expect(stats.syncs).toBe(3);
      expect(stats.allReduces).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('faults', () => {
  it('a worker killed mid-run ends the job with an error naming its rank and the signal', async () => {
    const dir = tempDir('ddp-kill');
    const config = configFor('dpo', dir, 4, { max_steps: 100_000, output_dir: join(dir, 'out') });
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify(config));
    const launcher = spawn(process.execPath, [
      cli,
      'train',
      path,
      '--nproc_per_node',
      '2',
      '--master_port',
      String(await freePort()),
    ]);
    let stdout = '';
    let stderr = '';
    launcher.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    launcher.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    // Once training runs (rank 0 reports steps), kill rank 1: the launcher's child whose RANK is 1.
    await vi.waitFor(() => expect(stdout + stderr).toMatch(/\[rank 0\] .*step [1-9]/), {
      timeout: 60_000,
      interval: 50,
    });
    const rank1 = workerPids(launcher.pid!).find((pid) =>
      readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('RANK=1'),
    )!;
    process.kill(rank1, 'SIGKILL');
    const code = await new Promise<number | null>((resolve) => launcher.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`rank 1 \\(pid ${rank1}\\) was killed by signal SIGKILL`));
    expect(workerPids(launcher.pid!)).toEqual([]);
  }, 60_000);

  it('a checkpoint written by 2 processes resumes on 1 and continues as the 1-process run', async () => {
    const dir = tempDir('ddp-resume');
    const oneConfig = configFor('dpo', dir, 8, { output_dir: join(dir, 'one') });
    const { logHistory } = await train(oneConfig as TrainConfig, { log: () => {} });
    const two = configFor('dpo', dir, 4, { output_dir: join(dir, 'two'), save_strategy: 'steps', save_steps: 2 });
    const job = await alignkitTrain(two, dir, 2);
    expect(job.status, job.stderr).toBe(0);
    const checkpoint = join(two.output_dir, 'checkpoint-2');
    expect(readdirSync(checkpoint)).toEqual(
      expect.arrayContaining(['rng_state_0.safetensors', 'rng_state_1.safetensors', 'optimizer.safetensors']),
    );
    const resumed = await train(
      { ...oneConfig, output_dir: join(dir, 'resumed'), resume_from_checkpoint: checkpoint } as TrainConfig,
      { log: () => {} },
    );
    expectSameLogs(
      resumed.logHistory.filter((e) => e.step! > 2),
      logHistory.filter((e) => e.step! > 2),
    );
  });

  it('a zero_stage 2 checkpoint of 2 processes resumes on 2 and continues as the uninterrupted run', async () => {
    const dir = tempDir('ddp-resume-zero2');
    const extra = { zero_stage: 2, save_strategy: 'steps', save_steps: 2 };
    const two = configFor('dpo', dir, 4, { ...extra, output_dir: join(dir, 'two') });
    expect((await alignkitTrain(two, dir, 2)).status).toBe(0);
    const resumed = configFor('dpo', dir, 4, {
      ...extra,
      output_dir: join(dir, 'resumed'),
      resume_from_checkpoint: join(two.output_dir, 'checkpoint-2'),
    });
    const job = await alignkitTrain(resumed, dir, 2);
    expect(job.status, job.stderr).toBe(0);
    expectSameLogs(
      logsOf(resumed).filter((e) => e.step! > 2),
      logsOf(two).filter((e) => e.step! > 2),
    );
  });
});

/** The launcher's live child processes (its workers). */
function workerPids(launcher: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(launcher)], { encoding: 'utf8' }).stdout.trim();
  return out ? out.split('\n').map(Number) : [];
}
