// push_to_hub: refused before any work when offline or without a token; otherwise output_dir is uploaded with
// @huggingface/hub at transformers' moments (hub_strategy), here to a stand-in for the hub's upload endpoints on
// 127.0.0.1 (upload-server.ts) that HF_ENDPOINT points the client at.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load-config.js';
import {
  checkpointCommitTitle,
  checkpointModelFiles,
  checkpointPathInRepo,
  checkPushToHub,
  filesToUpload,
  HubPusher,
  OUTPUT_DIR_IGNORE,
  type PushConfig,
} from '../../src/hub/push.js';
import { train, type DpoConfig } from '../../src/index.js';
import { checkReporting } from '../../src/report/reporters.js';
import { fixturesDir, modelDir, tempDir } from '../helpers/fixtures.js';
import { startUploadServer, type UploadServer } from './upload-server.js';

const HUB_VARS = [
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
  'HF_TOKEN_PATH',
  'HF_HOME',
  'HF_HUB_OFFLINE',
  'TRANSFORMERS_OFFLINE',
  'HF_ENDPOINT',
  'HF_HUB_DISABLE_IMPLICIT_TOKEN',
  'XDG_CACHE_HOME',
];
let saved: Record<string, string | undefined> = {};

beforeEach(() => {
  saved = Object.fromEntries(HUB_VARS.map((name) => [name, process.env[name]]));
  for (const name of HUB_VARS) delete process.env[name];
  // No token anywhere unless a test puts one: an empty HF_HOME.
  process.env.HF_HOME = tempDir('hf-home');
});

afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const data = join(fixturesDir, 'trl', 'dpo-train.jsonl');
const dpoConfig = (outputDir: string, extra: Omit<DpoConfig, 'trainer'>): DpoConfig => ({
  trainer: 'dpo',
  model_name_or_path: modelDir('llama'),
  train_dataset: data,
  output_dir: outputDir,
  bf16: false,
  gradient_checkpointing: false,
  use_cpu: true,
  max_steps: 4,
  logging_steps: 1,
  per_device_train_batch_size: 4,
  learning_rate: 1e-3,
  save_strategy: 'steps',
  save_steps: 2,
  ...extra,
});
const pushConfig = (extra: Partial<PushConfig>): PushConfig =>
  resolveConfig(
    dpoConfig(join(tempDir('push'), 'out'), { push_to_hub: true, ...extra } as Omit<DpoConfig, 'trainer'>),
  ) as unknown as PushConfig;

describe('push_to_hub is refused before any work', () => {
  it('when offline (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE)', async () => {
    process.env.HF_TOKEN = 'hf_test';
    process.env.HF_HUB_OFFLINE = '1';
    expect(() => checkPushToHub(pushConfig({}))).toThrow(
      /push_to_hub: true uploads output_dir to the Hugging Face Hub, but HF_HUB_OFFLINE=1 keeps alignkit offline/,
    );
    delete process.env.HF_HUB_OFFLINE;
    process.env.TRANSFORMERS_OFFLINE = 'yes';
    expect(() => checkPushToHub(pushConfig({}))).toThrow(/TRANSFORMERS_OFFLINE=yes keeps alignkit offline/);
    // train() refuses before it creates output_dir or loads anything.
    const out = join(tempDir('push-offline'), 'out');
    await expect(train(dpoConfig(out, { push_to_hub: true }), { log: () => {} })).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
    });
    expect(existsSync(out)).toBe(false);
  });

  it('without a token in hub_token, HF_TOKEN or the login file', async () => {
    expect(() => checkPushToHub(pushConfig({}))).toThrow(
      new RegExp(
        `needs a Hugging Face token with write access, and none was found: set hub_token, or HF_TOKEN, or log in with \`hf auth login\` \\(it writes ${process.env.HF_HOME}/token\\)`,
      ),
    );
    const out = join(tempDir('push-token'), 'out');
    await expect(train(dpoConfig(out, { push_to_hub: true }), { log: () => {} })).rejects.toThrow(
      /needs a Hugging Face token/,
    );
    expect(existsSync(out)).toBe(false);
    expect(() => checkPushToHub(pushConfig({ hub_token: 'hf_config' }))).not.toThrow();
    writeFileSync(join(process.env.HF_HOME!, 'token'), 'hf_from_login\n');
    expect(() => checkPushToHub(pushConfig({}))).not.toThrow();
  });

  it('with a hub_model_id that is not a repo id', () => {
    process.env.HF_TOKEN = 'hf_test';
    expect(() => checkPushToHub(pushConfig({ hub_model_id: 'a/b/c' }))).toThrow(
      /hub_model_id 'a\/b\/c' is not a hub repo id/,
    );
    expect(() => checkPushToHub(pushConfig({ hub_model_id: 'org/ok-name' }))).not.toThrow();
    expect(() => checkPushToHub({ ...pushConfig({}), push_to_hub: false, hub_model_id: 'a/b/c' })).not.toThrow();
  });

  it('for trainer online_dpo, whose rounds are DPO runs of their own', () => {
    process.env.HF_TOKEN = 'hf_test';
    const config = resolveConfig({
      trainer: 'online_dpo',
      model_name_or_path: 'm',
      train_dataset: 'd',
      output_dir: 'o',
      push_to_hub: true,
    });
    expect(() => checkReporting(config, () => {})).toThrow(/push_to_hub is not supported by trainer: online_dpo/);
  });
});

describe('what a push uploads', () => {
  it("leaves out of output_dir what the Trainer leaves out, and alignkit's working files", async () => {
    const dir = tempDir('push-files');
    for (const path of [
      'model.safetensors',
      'config.json',
      'runs/Jan01_00-00-00_h/events.out.tfevents.1.h.1.0',
      'checkpoint-2/model.safetensors',
      '_scratch/x',
      'train.arrow',
      'train.arrow.json',
      'eval.arrow',
      'eval.arrow.json',
      'alignkit.lock',
      '.checkpoint-4.tmp/optimizer.safetensors',
      '.git/HEAD',
      'sub/.git/x',
      '.cache/huggingface/y',
      'metrics.jsonl',
      'sub/_kept',
    ]) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), path);
    }
    expect(await filesToUpload(dir, OUTPUT_DIR_IGNORE)).toEqual([
      'config.json',
      'metrics.jsonl',
      'model.safetensors',
      'runs/Jan01_00-00-00_h/events.out.tfevents.1.h.1.0',
      'sub/_kept',
    ]);
  });

  it("copies a checkpoint's model and tokenizer files, not its training state", async () => {
    const dir = tempDir('push-ckpt');
    for (const name of [
      'model.safetensors',
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'chat_template.jinja',
      'trainer_state.json',
      'optimizer.safetensors',
      'rng_state.safetensors',
      'rng_state_1.safetensors',
      'scheduler.pt',
    ])
      writeFileSync(join(dir, name), name);
    mkdirSync(join(dir, 'ref_model'));
    expect(await checkpointModelFiles(dir)).toEqual([
      'chat_template.jinja',
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
    ]);
  });

  it('words commits and places checkpoints as _push_from_checkpoint', () => {
    expect(checkpointCommitTitle('steps', { step: 20, epoch: 1.5 })).toBe('Training in progress, step 20');
    expect(checkpointCommitTitle('epoch', { step: 20, epoch: 2.0 })).toBe('Training in progress, epoch 2');
    expect(checkpointPathInRepo('checkpoint', 'out/checkpoint-20')).toBe('last-checkpoint');
    expect(checkpointPathInRepo('all_checkpoints', 'out/checkpoint-20')).toBe('checkpoint-20');
    expect(checkpointPathInRepo('every_save', 'out/checkpoint-20')).toBe(null);
  });
});

describe('pushing to a hub (a local stand-in)', () => {
  let hub: UploadServer;
  beforeEach(async () => {
    hub = await startUploadServer(['tester/existing']);
    process.env.HF_ENDPOINT = hub.endpoint;
    process.env.HF_TOKEN = 'hf_test_token';
  });
  afterEach(() => hub.close());

  it('hub_strategy checkpoint: output_dir and last-checkpoint/ at each save, then the final model', async () => {
    const out = join(tempDir('push-train'), 'tiny-dpo');
    const notes: string[] = [];
    await train(
      dpoConfig(out, {
        push_to_hub: true,
        hub_strategy: 'checkpoint',
        hub_private_repo: true,
        hub_always_push: true,
        report_to: 'tensorboard',
      }),
      { log: (m) => notes.push(m) },
    );
    // The repo: output_dir's name in the token's namespace, created private before training.
    expect(hub.repos).toEqual([{ name: 'tiny-dpo', organization: 'tester', visibility: 'private', type: 'model' }]);
    expect([...hub.tokens]).toEqual(['Bearer hf_test_token']);
    expect(notes).toContain(`push_to_hub: pushing to ${hub.endpoint}/tester/tiny-dpo, hub_strategy checkpoint`);
    expect(hub.commits.map((c) => [c.repo, c.branch, c.title])).toEqual([
      ['tester/tiny-dpo', 'main', 'Training in progress, step 2'],
      ['tester/tiny-dpo', 'main', 'Training in progress, step 2, checkpoint'],
      ['tester/tiny-dpo', 'main', 'Training in progress, step 4'],
      ['tester/tiny-dpo', 'main', 'Training in progress, step 4, checkpoint'],
      ['tester/tiny-dpo', 'main', 'End of training'],
    ]);
    const [step2, ckpt2, , , end] = hub.commits;
    // At a save: the checkpoint's model copied into output_dir, no checkpoint-N folder, no tokenized data.
    expect(Object.keys(step2!.files)).toEqual(
      expect.arrayContaining(['model.safetensors', 'config.json', 'training_args.json', 'metrics.jsonl']),
    );
    expect(Object.keys(step2!.files).filter((p) => /^(checkpoint-|train\.arrow|alignkit\.lock)/.test(p))).toEqual([]);
    expect(step2!.files['model.safetensors']).toBe(sha(join(out, 'checkpoint-2', 'model.safetensors')));
    expect(Object.keys(ckpt2!.files)).toEqual(
      expect.arrayContaining([
        'last-checkpoint/model.safetensors',
        'last-checkpoint/trainer_state.json',
        'last-checkpoint/optimizer.safetensors',
      ]),
    );
    // At the end: the final model and the TensorBoard events.
    expect(end!.files['model.safetensors']).toBe(sha(join(out, 'model.safetensors')));
    expect(end!.files['metrics.jsonl']).toBe(sha(join(out, 'metrics.jsonl')));
    expect(Object.keys(end!.files).some((p) => p.startsWith('runs/') && p.includes('events.out.tfevents.'))).toBe(true);
    expect(readFileSync(join(out, 'training_args.json'), 'utf8')).not.toContain('hf_test_token');
  });

  it('hub_strategy end pushes once, after training, to hub_revision of an existing repo', async () => {
    const out = join(tempDir('push-end'), 'out');
    await train(
      dpoConfig(out, {
        push_to_hub: true,
        hub_strategy: 'end',
        hub_model_id: 'existing',
        hub_revision: 'dev',
        hub_token: 'hf_config_token',
      }),
      { log: () => {} },
    );
    expect(hub.repos).toEqual([]);
    expect([...hub.tokens]).toEqual(['Bearer hf_config_token']);
    expect(hub.commits.map((c) => [c.repo, c.branch, c.title])).toEqual([
      ['tester/existing', 'dev', 'End of training'],
    ]);
  });

  it("all_checkpoints keeps each checkpoint-N/; while a push uploads, the next checkpoint's is skipped (hub_always_push false)", async () => {
    const out = join(tempDir('push-busy'), 'out');
    const checkpoint = (step: number) => {
      const dir = join(out, `checkpoint-${step}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'model.safetensors'), `weights ${step}`);
      writeFileSync(join(dir, 'trainer_state.json'), `{"global_step": ${step}}`);
      return dir;
    };
    const notes: string[] = [];
    const config = { ...pushConfig({ hub_strategy: 'all_checkpoints', hub_model_id: 'org/busy' }), output_dir: out };
    const pusher = await HubPusher.open(config, (m) => notes.push(m));
    expect(hub.repos).toEqual([{ name: 'busy', organization: 'org', type: 'model' }]);
    let release!: () => void;
    hub.hold = new Promise((resolve) => (release = resolve));
    // saved() returns while its upload is still held at the commit: training is not blocked.
    await pusher.saved({ checkpoint: checkpoint(2), step: 2, epoch: 0.5 });
    expect(readFileSync(join(out, 'model.safetensors'), 'utf8')).toBe('weights 2');
    await pusher.saved({ checkpoint: checkpoint(4), step: 4, epoch: 1 });
    expect(notes).toContain(
      'push_to_hub: checkpoint-4 not pushed: the previous push is still uploading (hub_always_push: false)',
    );
    expect(readFileSync(join(out, 'model.safetensors'), 'utf8')).toBe('weights 2');
    expect(hub.commits).toEqual([]);
    release();
    hub.hold = null;
    await pusher.trainEnd();
    expect(hub.commits.map((c) => [c.title, Object.keys(c.files).sort()])).toEqual([
      ['Training in progress, step 2', ['model.safetensors']],
      [
        'Training in progress, step 2, checkpoint',
        ['checkpoint-2/model.safetensors', 'checkpoint-2/trainer_state.json'],
      ],
    ]);
    await pusher.saved({ checkpoint: checkpoint(6), step: 6, epoch: 1.5 });
    await pusher.close();
    expect(hub.commits.map((c) => c.title).slice(2)).toEqual([
      'Training in progress, step 6',
      'Training in progress, step 6, checkpoint',
    ]);
  });

  it('a failed background push is a note, training goes on; a failed final push is the error', async () => {
    const out = join(tempDir('push-fail'), 'out');
    mkdirSync(join(out, 'checkpoint-2'), { recursive: true });
    writeFileSync(join(out, 'checkpoint-2', 'model.safetensors'), 'w');
    const notes: string[] = [];
    const pusher = await HubPusher.open({ ...pushConfig({ hub_model_id: 'org/x' }), output_dir: out }, (m) =>
      notes.push(m),
    );
    await hub.close();
    await pusher.saved({ checkpoint: join(out, 'checkpoint-2'), step: 2, epoch: 1 });
    await pusher.trainEnd();
    expect(notes.at(-1)).toMatch(/^push_to_hub: "Training in progress, step 2" failed \(.*\); training goes on$/);
    await expect(pusher.modelSaved()).rejects.toMatchObject({
      code: 'ERR_HUB',
      message: expect.stringMatching(/^push_to_hub: uploading .* to org\/x failed: /),
    });
    hub = await startUploadServer();
  });
});
