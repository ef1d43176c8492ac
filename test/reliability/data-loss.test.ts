// Nothing lost: a run or a merge never writes over a model it reads. output_dir (merge's output) that is the model
// folder, the same folder by another spelling (dir/./, a symlink), or a folder inside it, is refused before any
// work, naming both paths; the model's files stay byte for byte as they were.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train, type DpoConfig } from '../../src/index.js';
import { modelDir, tempDir } from '../helpers/fixtures.js';
import { copyModel, dpoConfig, dpoData, expectOneLineError, runCli, snapshot } from './cli-run.js';

const quiet = { log: () => {} };

describe('output_dir over the model it trains', () => {
  const dir = tempDir('data-loss');
  const model = copyModel(join(dir, 'model'));
  symlinkSync(model, join(dir, 'model-link'));
  const before = snapshot(model);

  it.each([
    ['the model folder', model, /output_dir .* is the same folder as model_name_or_path .*model \(both are .*model\)/],
    ['the model folder as dir/./', `${model}/./`, /is the same folder as model_name_or_path/],
    ['a symlink to the model folder', join(dir, 'model-link'), /model-link is the same folder as model_name_or_path/],
    ['a folder inside the model folder', join(model, 'run'), /output_dir .*model\/run lies inside model_name_or_path/],
  ])('%s is refused before any work, naming both paths', async (_, outputDir, message) => {
    const config: DpoConfig = {
      trainer: 'dpo',
      model_name_or_path: model,
      train_dataset: dpoData,
      output_dir: outputDir,
      max_steps: 1,
      use_cpu: true,
    };
    await expect(train(config, quiet)).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: expect.stringMatching(message),
    });
    expect(snapshot(model)).toEqual(before);
  });

  it('the CLI says it in one line, exit code 1', () => {
    const result = runCli(['train', dpoConfig(dir, { model_name_or_path: model, output_dir: `${model}/.` })]);
    expectOneLineError(result, 'ERR_INVALID_CONFIG', `is the same folder as model_name_or_path ${model}`);
    expect(snapshot(model)).toEqual(before);
  });

  it('the base model of a PEFT adapter given as model_name_or_path is protected too', async () => {
    const adapter = join(dir, 'adapter');
    copyModel(adapter, 'llama-lora');
    const config = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
    writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: model }));
    await expect(
      train(
        { trainer: 'dpo', model_name_or_path: adapter, train_dataset: dpoData, output_dir: model, use_cpu: true },
        quiet,
      ),
    ).rejects.toThrow(/is the same folder as the base model of model_name_or_path/);
    expect(snapshot(model)).toEqual(before);
  });

  it('a model folder read by another key (resume_from_checkpoint) is protected too', async () => {
    const checkpoint = copyModel(join(dir, 'checkpoint-7'));
    await expect(
      train(
        {
          trainer: 'dpo',
          model_name_or_path: modelDir('llama'),
          train_dataset: dpoData,
          output_dir: checkpoint,
          resume_from_checkpoint: checkpoint,
          use_cpu: true,
        },
        quiet,
      ),
    ).rejects.toThrow(/is the same folder as resume_from_checkpoint/);
  });
});

describe('alignkit merge over its inputs', () => {
  const dir = tempDir('merge-over');
  const base = copyModel(join(dir, 'base'));
  const adapter = copyModel(join(dir, 'adapter'), 'llama-lora');
  mkdirSync(join(dir, 'links'));
  symlinkSync(base, join(dir, 'links', 'base'));
  const before = { base: snapshot(base), adapter: snapshot(adapter) };

  it.each([
    ['the base model', () => base, () => `is the same folder as the base model ${base}`],
    [
      'the base model through a symlink',
      () => join(dir, 'links', 'base'),
      () => `is the same folder as the base model ${base}`,
    ],
    ['the adapter', () => `${adapter}/./`, () => `is the same folder as the adapter ${adapter}`],
    ['a folder inside the base model', () => join(base, 'merged'), () => `lies inside the base model ${base}`],
  ])('an output that is %s is refused before any work, naming both paths', (_, output, message) => {
    const result = runCli(['merge', adapter, output(), '--base', base]);
    expectOneLineError(result, 'ERR_INVALID_CONFIG', `output ${output()} ${message()}`);
    expect(snapshot(base)).toEqual(before.base);
    expect(snapshot(adapter)).toEqual(before.adapter);
  });

  it('a new folder beside them is written', () => {
    const result = runCli(['merge', adapter, join(dir, 'merged'), '--base', base]);
    expect(result.status, result.stderr).toBe(0);
    expect(Object.keys(snapshot(join(dir, 'merged')))).toContain('model.safetensors');
  });
});
