// `alignkit dpo|sft|kto recipe.yaml --key value` (the built CLI, dist/): TRL's command line on a TRL-style recipe
// (no trainer: key; old spellings; keys without effect), its flags over the recipe's keys, trained as TRL 1.13 trains
// the same config (the log histories recorded by make_trl_dpo_flow.py, make_trl_sft_train.py, make_trl_kto_train.py);
// the launcher forwarding the recipe and flags to every worker; SIGTERM with enable_jit_checkpoint.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { expectLogEntryClose, fixturesDir, modelDir, tempDir, withoutTimings } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const alignkit = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);

interface Case {
  name: string;
  config: Record<string, unknown>;
  log_history: Record<string, number>[];
}
const caseOf = (fixture: string, name: string) =>
  (JSON.parse(readFileSync(join(fixturesDir, 'trl', fixture), 'utf8')) as { cases: Case[] }).cases.find(
    (c) => c.name === name,
  )!;

/** The run's log history (without the summary's timings; without the summary when TRL's has none) against TRL's. */
function expectTrlLogs(dir: string, trl: Record<string, number>[]) {
  const logs = withoutTimings(metrics(dir)).filter((e) => !('train_loss' in e) || trl.some((t) => 'train_loss' in t));
  expect(logs.map((e) => e.step)).toEqual(trl.map((e) => e.step));
  logs.forEach((entry, i) => expectLogEntryClose(entry, trl[i]!, entry.step! <= 1 ? 1e-4 : 1e-3));
}

/** A recipe as TRL's scripts take it: YAML without a trainer key. */
function writeRecipe(dir: string, keys: Record<string, unknown>): string {
  const path = join(dir, 'recipe.yaml');
  writeFileSync(path, stringify(keys));
  return path;
}

describe('alignkit dpo|sft|kto recipe.yaml', () => {
  it('dpo: the recipe with flags over it trains as TRL does; old spellings read, keys without effect noted once', () => {
    const c = caseOf('dpo-flow.json', 'ratios_eval_delay');
    const dir = tempDir('trl-cli-dpo');
    const data = join(dir, 'pairs.jsonl');
    const { pair } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'dpo-flow.json'), 'utf8')) as { pair: object };
    writeFileSync(data, `${JSON.stringify(pair)}\n`.repeat(5));
    const recipe = writeRecipe(dir, {
      model_name_or_path: modelDir('llama'),
      train_dataset: data,
      eval_dataset: data,
      output_dir: join(dir, 'out'),
      bf16: false,
      gradient_checkpointing: false,
      per_device_train_batch_size: 2,
      per_device_eval_batch_size: 2,
      learning_rate: '1.0e-3',
      seed: 42,
      max_steps: 100,
      save_steps: 100,
      // A handbook recipe's keys: the old spelling of eval_strategy, and keys with no effect here.
      evaluation_strategy: 'steps',
      do_eval: true,
      log_level: 'info',
      overwrite_output_dir: true,
    });
    const result = alignkit(
      'dpo',
      recipe,
      '--max_steps',
      '6',
      '--logging_steps',
      '0.25',
      '--eval_steps=0.34',
      '--eval-delay',
      '4',
      '--save_strategy',
      'steps',
      '--save_steps',
      '0.5',
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^done: 6 steps in .*; model saved to ${join(dir, 'out')}$`, 'm'));
    for (const key of ['do_eval', 'log_level', 'overwrite_output_dir']) {
      expect(
        result.stderr.split('\n').filter((line) => line.startsWith(`note: ${key}: `)),
        key,
      ).toHaveLength(1);
    }
    expectTrlLogs(join(dir, 'out'), c.log_history);
    const args = JSON.parse(readFileSync(join(dir, 'out', 'training_args.json'), 'utf8'));
    expect(args).toMatchObject({
      trainer: 'dpo',
      max_steps: 6,
      eval_strategy: 'steps',
      eval_delay: 4,
      save_steps: 0.5,
    });
  });

  it('sft --config recipe.yaml trains as TRL does', () => {
    const c = caseOf('sft-train.json', 'prompt_completion_accumulation') as Case & { rows: object[] };
    const dir = tempDir('trl-cli-sft');
    const data = join(dir, 'rows.jsonl');
    writeFileSync(data, c.rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    const recipe = writeRecipe(dir, {
      model_name_or_path: modelDir('llama'),
      train_dataset: data,
      output_dir: join(dir, 'out'),
      bf16: false,
      gradient_checkpointing: true,
      save_strategy: 'no',
      use_cpu: true,
      max_seq_length: 1024,
      ...c.config,
    });
    const result = alignkit('sft', '--config', recipe, '--no_gradient_checkpointing', '--completion_only_loss', 'true');
    expect(result.status, result.stderr).toBe(0);
    expectTrlLogs(join(dir, 'out'), c.log_history);
  });

  it('kto recipe.yaml trains as TRL does', () => {
    const c = caseOf('kto-train.json', 'kto');
    const dir = tempDir('trl-cli-kto');
    const recipe = writeRecipe(dir, {
      model_name_or_path: modelDir('llama'),
      train_dataset: join(fixturesDir, 'trl', 'kto-train.jsonl'),
      output_dir: join(dir, 'out'),
      bf16: false,
      gradient_checkpointing: false,
      save_strategy: 'no',
      ...c.config,
      learning_rate: 0.5,
    });
    const result = alignkit('kto', recipe, '--learning_rate', String(c.config.learning_rate));
    expect(result.status, result.stderr).toBe(0);
    expectTrlLogs(join(dir, 'out'), c.log_history);
  });

  it.each([
    [
      ['dpo', '--betta', '0.2'],
      'alignkit: alignkit dpo: unknown flag --betta (did you mean --beta?) [ERR_INVALID_CONFIG]',
    ],
    [
      ['kto', '--fsdp', 'hybrid_shard'],
      /^alignkit: alignkit kto: fsdp: hybrid_shard is only available with FSDP1 in transformers \(fsdp_config.version: 1\); and hybrid_shard \(shard within a node, replicate across nodes\) is not supported: alignkit shards over every rank .* \[ERR_INVALID_CONFIG\]$/,
    ],
  ])('%j is one clear error line and exit code 1', (args, message) => {
    const result = alignkit(...args);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('a recipe whose trainer: names another trainer is refused, before any work', () => {
    const dir = tempDir('trl-cli-mismatch');
    const recipe = writeRecipe(dir, { trainer: 'sft', output_dir: join(dir, 'out') });
    const result = alignkit('dpo', recipe);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      `alignkit: ${recipe}: trainer: "sft", but the command is alignkit dpo (drop the trainer key, or run alignkit train) [ERR_INVALID_CONFIG]`,
    );
  });

  it('with --nproc_per_node, every worker runs the same recipe and flags', async () => {
    const dir = tempDir('trl-cli-launch');
    const recipe = writeRecipe(dir, {
      model_name_or_path: modelDir('llama'),
      train_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
      output_dir: join(dir, 'out'),
    });
    // --resume_from_checkpoint with no checkpoint in output_dir: each worker refuses, so the flag shows in the failure.
    const port = await freePort();
    const result = alignkit(
      'dpo',
      recipe,
      '--max_steps',
      '1',
      '--nproc_per_node',
      '2',
      '--master_port',
      String(port),
      '--resume_from_checkpoint',
    );
    expect(result.stdout).toMatch(
      new RegExp(`^launching 2 worker\\(s\\): ranks 0\\.\\.1 of 2, rendezvous at 127\\.0\\.0\\.1:${port}\\n`),
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `alignkit: resume_from_checkpoint: true, but output_dir ${join(dir, 'out')} holds no checkpoint-N folder to resume from [ERR_NOT_FOUND]`,
    );
  });

  it('SIGTERM saves a checkpoint and exits 143 (enable_jit_checkpoint is noted: always so); the printed command resumes the run', async () => {
    const dir = tempDir('trl-cli-jit');
    const recipe = writeRecipe(dir, {
      model_name_or_path: modelDir('llama'),
      train_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
      output_dir: join(dir, 'out'),
      bf16: false,
      gradient_checkpointing: false,
      per_device_train_batch_size: 1,
      logging_steps: 1,
      save_strategy: 'no',
    });
    const args = ['dpo', recipe, '--max_steps', '24', '--enable_jit_checkpoint'];
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (/^step 1\//m.test(stdout) && !child.killed) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(143);
    expect(stderr).toContain('SIGTERM: stopping after this optimizer step and saving a checkpoint');
    expect(stderr).toMatch(
      /^note: enable_jit_checkpoint: true has no effect in alignkit: alignkit's command line always checkpoints on SIGTERM/m,
    );
    const checkpoint = /^stopped at step \d+: checkpoint (\S+)$/m.exec(stdout)?.[1];
    expect(checkpoint).toBeDefined();
    const resume = /^resume with: alignkit (.*?)  \(or resume_from_checkpoint: true in the config\)$/m.exec(
      stdout,
    )?.[1];
    expect(resume).toBe(`dpo ${recipe} --max_steps 24 --enable_jit_checkpoint --resume_from_checkpoint ${checkpoint}`);
    const resumed = alignkit(...resume!.split(' '));
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^done: 24 steps/m);
  });
});
