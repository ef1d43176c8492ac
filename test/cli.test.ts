// `alignkit info` from the built CLI (dist/, compiled by `npm run build`, which `npm test` runs first).
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { info, loadModel } from '../src/index.js';
import { fixturesDir, modelDir, tempDir } from './helpers/fixtures.js';

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');

describe('alignkit info', () => {
  it('reports torch, CUDA, device, threads and the addon in use', () => {
    const printed = JSON.parse(execFileSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' }));
    const local = info();
    expect(printed.torchVersion).toMatch(/^2\.\d+\.\d+/);
    expect(printed).toMatchObject({ torchVersion: local.torchVersion, cudaAvailable: local.cudaAvailable, addonPath: local.addonPath });
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
    const text = execFileSync(process.execPath, [cli, 'inspect', '--batch', '2', '--seq-len', '16'], { encoding: 'utf8' });
    const params = (await loadModel(modelDir('llama'))).parameters().reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
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
    expect(failure?.stderr.trim()).toBe(`alignkit: ${join(import.meta.dirname, 'config.json')}: cannot be read (is this a Hugging Face model folder?) [ERR_NOT_FOUND]`);
  });
});

describe('alignkit preprocess', () => {
  it('tokenizes the train and eval datasets of a config and prints counts and length statistics', () => {
    const dir = tempDir('cli-preprocess');
    const config = join(dir, 'dpo.yaml');
    writeFileSync(config, [
      'trainer: dpo',
      `model_name_or_path: ${join(fixturesDir, 'tokenizers', 'chatml-bytelevel')}`,
      `train_dataset: ${join(fixturesDir, 'data', 'conversational.jsonl')}`,
      `eval_dataset: ${join(fixturesDir, 'data', 'standard.parquet')}`,
      `output_dir: ${join(dir, 'out')}`,
      'skip_invalid_rows: true',
      'beta: 0.2',
    ].join('\n'));
    const result = execFileSync(process.execPath, [cli, 'preprocess', config], { encoding: 'utf8', stdio: 'pipe' });
    expect(result).toContain(`train: 3 rows → ${join(dir, 'out', 'train.arrow')}`);
    expect(result).toContain(`eval: 3 rows → ${join(dir, 'out', 'eval.arrow')}`);
    expect(result).toMatch(/^  prompt tokens\s+min \d+  mean [\d.]+  p95 \d+  max \d+$/m);
    expect(existsSync(join(dir, 'out', 'train.arrow'))).toBe(true);
    const again = execFileSync(process.execPath, [cli, 'preprocess', config], { encoding: 'utf8', stdio: 'pipe' });
    expect(again).toContain('(cached: data, tokenizer and settings unchanged)');
  });

  it('tokenizes SFT data for trainer: sft', () => {
    const dir = tempDir('cli-preprocess-sft');
    const config = join(dir, 'sft.yaml');
    const data = join(dir, 'chat.jsonl');
    const turn = (role: string, content: string) => ({ role, content });
    writeFileSync(data, [1, 2, 3].map((i) => JSON.stringify({ messages: [turn('user', `Question ${i}?`), turn('assistant', `Answer ${i}.`)] })).join('\n'));
    writeFileSync(config, [
      'trainer: sft',
      `model_name_or_path: ${join(fixturesDir, 'tokenizers', 'chatml-bytelevel')}`,
      `train_dataset: ${data}`,
      `output_dir: ${join(dir, 'out')}`,
    ].join('\n'));
    const result = execFileSync(process.execPath, [cli, 'preprocess', config], { encoding: 'utf8', stdio: 'pipe' });
    expect(result).toContain(`train: 3 rows → ${join(dir, 'out', 'train.arrow')}`);
    expect(result).toMatch(/^  trained tokens\s+min \d+/m);
  });
});
