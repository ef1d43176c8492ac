// The built CLI (dist/, compiled by `npm run build`, which `npm test` runs first): info, inspect, merge, preprocess,
// train, report, eval (the demo runs in test/demo/demo.test.ts).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { info, loadModel } from '../src/index.js';
import { fixturesDir, maxAbsDiff, modelDir, reference, tempDir, withoutTimings } from './helpers/fixtures.js';
import { dpoRun } from './report/training-runs.js';

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');

describe('alignkit info', () => {
  it('reports torch, CUDA, device, threads and the addon in use', () => {
    const printed = JSON.parse(execFileSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' }));
    const local = info();
    expect(printed.torchVersion).toMatch(/^2\.\d+\.\d+/);
    expect(printed).toMatchObject({
      torchVersion: local.torchVersion,
      cudaAvailable: local.cudaAvailable,
      addonPath: local.addonPath,
    });
    expect(printed.device).toBe(local.cudaAvailable ? 'cuda:0' : 'cpu');
    expect(printed.threads).toBeGreaterThan(0);
    expect(printed.addonPath).toMatch(/alignkit\.node$/);
    expect(printed.libtorch.version).toContain(printed.torchVersion);
  });

  it('prints a readable table without --json', () => {
    const text = execFileSync(process.execPath, [cli, 'info'], { encoding: 'utf8' });
    expect(text).toMatch(/^torch\s+2\.\d+/m);
    expect(text).toMatch(/^threads\s+\d+/m);
  });
});

describe('alignkit inspect', () => {
  it('loads the bundled model and runs a forward+backward pass with the library’s loss', async () => {
    const text = execFileSync(process.execPath, [cli, 'inspect', '--batch', '2', '--seq-len', '16'], {
      encoding: 'utf8',
    });
    const params = (await loadModel(modelDir('llama')))
      .parameters()
      .reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(text).toMatch(/^type\s+llama: 2 layers, hidden 64, heads 4\/2 \(q\/kv\), head_dim 16, vocab 256$/m);
    expect(text).toContain(`params     ${params.toLocaleString('en-US')} (float32 on cpu)`);
    expect(text).toMatch(/^step\s+loss \d+\.\d{4} on random tokens/m);
  });

  it('a folder that is not a model is one plain error line and exit code 1', () => {
    let failure: { status: number; stderr: string } | undefined;
    try {
      execFileSync(process.execPath, [cli, 'inspect', import.meta.dirname], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      failure = e as { status: number; stderr: string };
    }
    expect(failure?.status).toBe(1);
    expect(failure?.stderr.trim()).toBe(
      `alignkit: ${join(import.meta.dirname, 'config.json')}: cannot be read (is this a Hugging Face model folder?) [ERR_NOT_FOUND]`,
    );
  });
});

describe('alignkit merge', () => {
  it("writes the adapter's base with the adapter folded in: a plain model with PeftModel's logits", async () => {
    const out = join(tempDir('cli-merge'), 'merged');
    const text = execFileSync(process.execPath, [cli, 'merge', modelDir('llama-lora'), out], { encoding: 'utf8' });
    expect(text).toContain(`merged ${modelDir('llama-lora')} into ${out}`);
    const [model, ref] = await Promise.all([loadModel(out), reference('peft-lora')]);
    const mask = ref('attention_mask').data as Int32Array;
    const logits = await model.logits(ref('input_ids').data as Int32Array, mask, { seqLen: 10 });
    expect(maxAbsDiff(logits.data, ref('logits_lora').data as Float32Array, 256, mask)).toBeLessThanOrEqual(1e-4);
  });
});

describe('alignkit preprocess', () => {
  it('tokenizes the train and eval datasets of a config and prints counts and length statistics', () => {
    const dir = tempDir('cli-preprocess');
    const config = join(dir, 'dpo.yaml');
    writeFileSync(
      config,
      [
        'trainer: dpo',
        `model_name_or_path: ${join(fixturesDir, 'tokenizers', 'chatml-bytelevel')}`,
        `train_dataset: ${join(fixturesDir, 'data', 'conversational.jsonl')}`,
        `eval_dataset: ${join(fixturesDir, 'data', 'standard.parquet')}`,
        `output_dir: ${join(dir, 'out')}`,
        'skip_invalid_rows: true',
        'beta: 0.2',
      ].join('\n'),
    );
    const result = execFileSync(process.execPath, [cli, 'preprocess', config], { encoding: 'utf8', stdio: 'pipe' });
    expect(result).toContain(`train: 3 rows → ${join(dir, 'out', 'train.arrow')}`);
    expect(result).toContain(`eval: 3 rows → ${join(dir, 'out', 'eval.arrow')}`);
    expect(result).toMatch(/^  prompt tokens\s+min \d+  mean [\d.]+  p95 \d+  max \d+$/m);
    expect(existsSync(join(dir, 'out', 'train.arrow'))).toBe(true);
    const again = execFileSync(process.execPath, [cli, 'preprocess', config], { encoding: 'utf8', stdio: 'pipe' });
    expect(again).toContain('(cached: data, tokenizer and settings unchanged)');
  });

  it('tokenizes ranked rows as whole rankings for ranked_pairing: listwise', () => {
    const dir = tempDir('cli-preprocess-listwise');
    const config = join(dir, 'listwise.yaml');
    const data = join(dir, 'ranked.jsonl');
    const rows = [
      { prompt: 'Q:', completions: [' b', ' a', ' d', ' c'], scores: [3, 4, 1, 2] },
      { prompt: 'R:', completions: [' x', ' y'], scores: [1, 1] },
    ];
    writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
    writeFileSync(
      config,
      [
        'trainer: dpo',
        'ranked_pairing: listwise',
        `model_name_or_path: ${modelDir('llama')}`,
        `train_dataset: ${data}`,
        `output_dir: ${join(dir, 'out')}`,
      ].join('\n'),
    );
    const result = execFileSync(process.execPath, [cli, 'preprocess', config], { encoding: 'utf8', stdio: 'pipe' });
    expect(result).toContain(`train: 1 prompts, 4 answers → ${join(dir, 'out', 'train-ranked.arrow')}`);
    expect(result).toContain('1 with every answer tied');
  });

  it('tokenizes SFT data for trainer: sft', () => {
    const dir = tempDir('cli-preprocess-sft');
    const config = join(dir, 'sft.yaml');
    const data = join(dir, 'chat.jsonl');
    const turn = (role: string, content: string) => ({ role, content });
    writeFileSync(
      data,
      [1, 2, 3]
        .map((i) => JSON.stringify({ messages: [turn('user', `Question ${i}?`), turn('assistant', `Answer ${i}.`)] }))
        .join('\n'),
    );
    writeFileSync(
      config,
      [
        'trainer: sft',
        `model_name_or_path: ${join(fixturesDir, 'tokenizers', 'chatml-bytelevel')}`,
        `train_dataset: ${data}`,
        `output_dir: ${join(dir, 'out')}`,
      ].join('\n'),
    );
    const result = execFileSync(process.execPath, [cli, 'preprocess', config], { encoding: 'utf8', stdio: 'pipe' });
    expect(result).toContain(`train: 3 rows → ${join(dir, 'out', 'train.arrow')}`);
    expect(result).toMatch(/^  trained tokens\s+min \d+/m);
  });
});

describe('alignkit train', () => {
  const dir = tempDir('cli-train');
  const configFile = (name: string) => {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(
      path,
      [
        'trainer: dpo',
        `model_name_or_path: ${modelDir('llama')}`,
        `train_dataset: ${join(fixturesDir, 'trl', 'dpo-train.jsonl')}`,
        `output_dir: ${join(dir, name)}`,
        'bf16: false',
        'gradient_checkpointing: false',
        'per_device_train_batch_size: 1',
        'max_steps: 24',
        'logging_steps: 1',
        'learning_rate: 0.001',
        "save_strategy: 'no'",
      ].join('\n'),
    );
    return path;
  };
  const metrics = (name: string) =>
    readFileSync(join(dir, name, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));

  /** Runs `alignkit train` (stdout a pipe: plain lines) and sends SIGINT once the first step is logged. */
  function interruptAfterFirstLog(config: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [cli, 'train', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (/^step 1\//m.test(stdout) && !child.killed) child.kill('SIGINT');
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  it('Ctrl-C saves a whole checkpoint and exits with 130; --resume ends where an uninterrupted run does', async () => {
    const full = execFileSync(process.execPath, [cli, 'train', configFile('full')], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    expect(full).toMatch(/^step 1\/24  loss 0\.6931/m);
    expect(full).toMatch(
      new RegExp(
        `^done: 24 steps in \\d+m\\d+s, train_loss [\\d.]+, [\\d.]+ steps/s, [\\d.]+ samples/s; model saved to ${join(dir, 'full')}$`,
        'm',
      ),
    );

    const config = configFile('stopped');
    const stopped = await interruptAfterFirstLog(config);
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toContain('stopping after this optimizer step and saving a checkpoint');
    const checkpoint = /^stopped at step \d+: checkpoint (\S+)$/m.exec(stopped.stdout)?.[1];
    expect(stopped.stdout).toContain(`resume with: alignkit train ${config} --resume ${checkpoint}`);
    // Whole: model, optimizer and trainer state of the same step, no temporary folder left, and it loads.
    const state = JSON.parse(readFileSync(join(checkpoint!, 'trainer_state.json'), 'utf8'));
    expect(basename(checkpoint!)).toBe(`checkpoint-${state.global_step}`);
    expect(state.global_step).toBeLessThan(24);
    expect(readdirSync(checkpoint!)).toEqual(
      expect.arrayContaining(['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json']),
    );
    expect(readdirSync(join(dir, 'stopped')).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(metrics('stopped')).toEqual(state.log_history);
    await loadModel(checkpoint!);

    const resumed = execFileSync(process.execPath, [cli, 'train', config, '--resume'], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    expect(resumed).toMatch(new RegExp(`^step ${state.global_step + 1}/24 `, 'm'));
    expect(withoutTimings(metrics('stopped'))).toEqual(withoutTimings(metrics('full')));
    expect(/train_loss ([\d.]+)/.exec(resumed)![1]).toBe(/train_loss ([\d.]+)/.exec(full)![1]);
  });
});

describe('alignkit report', () => {
  it('writes report.html and the PNGs into --out and says where', async () => {
    const dir = await dpoRun('cli-report');
    const out = join(tempDir('cli-report-out'), 'report');
    const printed = execFileSync(process.execPath, [cli, 'report', dir, '--out', out], { encoding: 'utf8' });
    const plots = readdirSync(join(out, 'plots'));
    expect(printed.trim()).toBe(
      `report: ${join(out, 'report.html')} (${plots.length} charts, PNGs in ${join(out, 'plots')})`,
    );
    expect(plots).toEqual(
      expect.arrayContaining(['loss.png', 'rewards-margins.png', 'rewards-accuracies.png', 'learning_rate.png']),
    );
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain(
      '<figure class="chart" data-metric="rewards/margins">',
    );
  });

  it('a folder without metrics.jsonl is one plain error line and exit code 1', () => {
    const dir = tempDir('cli-report-empty');
    let failure: { status: number; stderr: string } | undefined;
    try {
      execFileSync(process.execPath, [cli, 'report', dir], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      failure = e as { status: number; stderr: string };
    }
    expect(failure?.status).toBe(1);
    expect(failure?.stderr.trim()).toMatch(
      new RegExp(
        `^alignkit: ${join(dir, 'metrics.jsonl')}: cannot be read \\(ENOENT[^\\n]*\\); alignkit train writes it to output_dir \\[ERR_NOT_FOUND\\]$`,
      ),
    );
  });
});

describe('alignkit eval', () => {
  it('evaluates as the YAML config says and prints every figure of eval_results.json', () => {
    const dir = tempDir('cli-eval');
    const config = join(dir, 'eval.yaml');
    writeFileSync(
      config,
      [
        `model_name_or_path: ${modelDir('llama')}`,
        `ref_model: ${modelDir('llama-ref')}`,
        `eval_dataset: ${join(fixturesDir, 'trl', 'dpo-train.jsonl')}`,
        `output_dir: ${dir}`,
        'beta: 0.3',
        'use_cpu: true',
      ].join('\n') + '\n',
    );
    const printed = execFileSync(process.execPath, [cli, 'eval', config], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const results = JSON.parse(readFileSync(join(dir, 'eval_results.json'), 'utf8')) as Record<string, number>;
    for (const key of Object.keys(results))
      expect(printed).toMatch(new RegExp(`^${key.replace('/', '\\/')}\\s+\\S+$`, 'm'));
    expect(printed).toContain(`results: ${join(dir, 'eval_results.json')}`);
  });

  it('an unknown key is one plain error line naming the closest valid one', () => {
    const dir = tempDir('cli-eval-bad');
    const config = join(dir, 'eval.yaml');
    writeFileSync(config, `model_name_or_path: ${modelDir('llama')}\neval_datset: x.jsonl\n`);
    let failure: { status: number; stderr: string } | undefined;
    try {
      execFileSync(process.execPath, [cli, 'eval', config], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      failure = e as { status: number; stderr: string };
    }
    expect(failure?.status).toBe(1);
    expect(failure?.stderr.trim()).toBe(
      `alignkit: ${config}: unknown key 'eval_datset' for alignkit eval (did you mean 'eval_dataset'?) [ERR_INVALID_CONFIG]`,
    );
  });
});
