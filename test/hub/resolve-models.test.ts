// A config's models named by hub id: resolveInputs (train) and the eval entry turn them into snapshot folders of
// the HF cache, at model_revision / model_init_kwargs.revision; and train() runs on a model found only in the cache.
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load-config.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { cachedRepoFolder } from '../../src/hub/resolve.js';
import { modelRevision, resolveEvalModelPaths, resolveModelPaths } from '../../src/hub/resolve-models.js';
import { resolveInputs } from '../../src/train/resolve-inputs.js';
import { train } from '../../src/train/train-from-config.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';
import { HUB_ENV, hubFixture, saveHubEnv } from './stand-in-hub.js';

const restoreEnv = saveHubEnv();
const A = 'e5f47f6d1663b5ab44393befa587f3385aae3de7';
const B = '45ba8357df6aec91f38a0239f29467dea68d7ee4';
let cache: string;
let logs: string[];
const log = (m: string) => logs.push(m);
const snapshot = (commit: string, repo = 'models--tiny-org--tiny-llama') => join(cache, repo, 'snapshots', commit);

beforeEach(() => {
  for (const key of HUB_ENV) if (key !== 'HOME') delete process.env[key];
  cache = join(tempDir('hub-models'), 'hub');
  cpSync(join(hubFixture, 'cache'), cache, { recursive: true, verbatimSymlinks: true });
  Object.assign(process.env, { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
  logs = [];
});
afterEach(restoreEnv);

/** Puts a local model folder into the cache as `repoId`'s main, in huggingface_hub's layout. */
function cacheModel(repoId: string, folder: string): string {
  const storage = join(cache, `models--${repoId.replace('/', '--')}`);
  const commit = createHash('sha1').update(repoId).digest('hex');
  for (const name of readdirSync(folder)) {
    const data = readFileSync(join(folder, name));
    const etag = name.endsWith('.safetensors')
      ? createHash('sha256').update(data).digest('hex')
      : createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    mkdirSync(join(storage, 'blobs'), { recursive: true });
    writeFileSync(join(storage, 'blobs', etag), data);
    mkdirSync(join(storage, 'snapshots', commit), { recursive: true });
    symlinkSync(
      relative(join(storage, 'snapshots', commit), join(storage, 'blobs', etag)),
      join(storage, 'snapshots', commit, name),
    );
  }
  mkdirSync(join(storage, 'refs'), { recursive: true });
  writeFileSync(join(storage, 'refs', 'main'), commit);
  return join(storage, 'snapshots', commit);
}

describe('the models a config names by hub id', () => {
  it('model_name_or_path resolves at model_revision, or model_init_kwargs.revision', async () => {
    const config = {
      model_name_or_path: 'tiny-org/tiny-llama',
      model_revision: 'v1',
      reward_model_path: modelDir('llama'),
      model_init_kwargs: null,
    };
    const resolved = await resolveModelPaths(config, log);
    expect(resolved).toEqual({ ...config, model_name_or_path: snapshot(B) });
    expect(config.model_name_or_path).toBe('tiny-org/tiny-llama'); // a copy: the caller's config is left as it was
    expect(logs).toEqual([`model_name_or_path: tiny-org/tiny-llama (revision v1) is ${snapshot(B)}`]);
    expect(modelRevision({ model_revision: 'main', model_init_kwargs: { revision: 'refs/pr/1' } })).toBe('refs/pr/1');
    expect(modelRevision({ model_revision: 'main', model_init_kwargs: null })).toBe(null);
    expect(() => modelRevision({ model_revision: 'v1', model_init_kwargs: { revision: 'v2' } })).toThrow(
      /model_revision: v1 and model_init_kwargs.revision: v2 disagree/,
    );
    expect(
      (await resolveModelPaths({ model_name_or_path: 'tiny-org/tiny-llama', model_revision: 'main' }, log))
        .model_name_or_path,
    ).toBe(snapshot(A));
  });

  it('reward_model_path resolves too; a local path stays as written', async () => {
    const resolved = await resolveModelPaths(
      { model_name_or_path: modelDir('llama'), reward_model_path: 'tiny-org/tiny-llama' },
      log,
    );
    expect(resolved).toEqual({ model_name_or_path: modelDir('llama'), reward_model_path: snapshot(A) });
  });

  it('a name that is neither a local folder nor in the cache says both', async () => {
    await expect(resolveModelPaths({ model_name_or_path: 'models/my-sft' }, log)).rejects.toThrow(
      `model_name_or_path: 'models/my-sft' is no local folder (in ${process.cwd()}), so it names a hub model: model 'models/my-sft' (revision main) is not in the Hugging Face cache`,
    );
  });

  it("fetches the hub base model a PEFT adapter folder names, at the adapter's revision", async () => {
    const adapter = tempDir('hub-adapter');
    writeFileSync(
      join(adapter, 'adapter_config.json'),
      JSON.stringify({ base_model_name_or_path: 'tiny-org/tiny-llama', revision: 'v1', peft_type: 'LORA' }),
    );
    expect((await resolveModelPaths({ model_name_or_path: adapter }, log)).model_name_or_path).toBe(adapter);
    expect(logs).toEqual([
      `model_name_or_path (its adapter's base_model_name_or_path): tiny-org/tiny-llama (revision v1) is ${snapshot(B)}`,
    ]);
    expect(cachedRepoFolder({ id: 'tiny-org/tiny-llama', repoType: 'model', revision: 'v1' })).toBe(snapshot(B));
  });

  it("an eval config's models resolve; a hub model without output_dir is refused", async () => {
    const config = {
      model_name_or_path: 'tiny-org/tiny-llama',
      ref_model: 'tiny-org/tiny-llama',
      reward_model: null,
      output_dir: tempDir('hub-eval'),
    };
    expect(await resolveEvalModelPaths(config, log)).toEqual({
      ...config,
      model_name_or_path: snapshot(A),
      ref_model: snapshot(A),
    });
    await expect(resolveEvalModelPaths({ ...config, output_dir: null }, log)).rejects.toThrow(
      "output_dir is required when model_name_or_path is a hub id ('tiny-org/tiny-llama'): its default, the model's folder, would be inside the Hugging Face cache",
    );
    await expect(
      evaluate({ model_name_or_path: 'tiny-org/tiny-llama', eval_dataset: 'x.jsonl' }, { log }),
    ).rejects.toThrow(/output_dir is required/);
  });

  it("resolveInputs turns a training config's hub model into its snapshot folder", async () => {
    const config = resolveConfig({
      trainer: 'dpo',
      model_name_or_path: 'tiny-org/tiny-llama',
      model_revision: 'refs/pr/1',
      train_dataset: join(fixturesDir, 'trl', 'dpo-train.jsonl'),
      output_dir: tempDir('hub-inputs'),
    });
    const resolved = await resolveInputs(config, log);
    expect(resolved.model_name_or_path).toBe(snapshot(B));
    expect(resolved.train_dataset).toBe(config.train_dataset);
  });

  it('train() runs offline on a model found only in the hub cache', async () => {
    const dir = cacheModel('tiny-org/llama-fixture', modelDir('llama'));
    const data = join(tempDir('hub-train'), 'pairs.jsonl');
    writeFileSync(
      data,
      readFileSync(join(fixturesDir, 'trl', 'dpo-train.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .slice(0, 4)
        .join('\n') + '\n',
    );
    const notes: string[] = [];
    const result = await train(
      {
        trainer: 'dpo',
        model_name_or_path: 'tiny-org/llama-fixture',
        train_dataset: data,
        output_dir: tempDir('hub-train-out'),
        max_steps: 1,
        per_device_train_batch_size: 2,
        bf16: false,
        gradient_checkpointing: false,
        save_strategy: 'no',
        report_to: 'none',
      },
      { log: (m) => notes.push(m) },
    );
    expect(result.globalStep).toBe(1);
    expect(notes).toContain(`model_name_or_path: tiny-org/llama-fixture is ${dir}`);
  });
});
