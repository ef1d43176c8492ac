// The old alignment-handbook's data keys (dataset_mixer, dataset_splits, dataset_configs, auto_insert_empty_system_msg,
// ...; src/config/handbook-data-fields.ts) and how src/data/sources/handbook-mixer.ts reads them as the old
// get_datasets / mix_datasets and run_orpo.py did. test/recipes/handbook-recipes.test.ts runs two whole recipes
// against the handbook's own Python; these cases cover the rules those recipes do not reach.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configNotes } from '../../src/config/config-notes.js';
import { resolveConfig } from '../../src/config/load-config.js';
import { trainerSchemas } from '../../src/config/trainer-fields.js';
import {
  OLD_HANDBOOK_DEFAULT_TEMPLATE,
  mixerRows,
  mixerSources,
  renderOrpoRow,
  resolveHandbookMixer,
  type HandbookMixerKeys,
} from '../../src/data/sources/handbook-mixer.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { fixturesDir, tempDir } from '../helpers/fixtures.js';

const orpo = (keys: Record<string, unknown>) => resolveConfig({ trainer: 'orpo', ...keys }, 'old.yaml');
const mixer = (keys: Partial<HandbookMixerKeys>): HandbookMixerKeys => ({
  dataset_mixer: { a: 1 },
  dataset_splits: ['train'],
  dataset_configs: null,
  auto_insert_empty_system_msg: true,
  chat_template: null,
  model_name_or_path: null,
  max_prompt_length: null,
  eval_strategy: 'no',
  output_dir: null,
  skip_invalid_rows: false,
  ...keys,
});

describe('the old handbook keys in a config', () => {
  it('trainer orpo takes them with the old defaults, noting the ones with no effect', () => {
    const config = orpo({
      dataset_mixer: { 'argilla/dpo-mix-7k': 1.0 },
      preprocessing_num_workers: 8,
      use_flash_attention_2: true,
      truncation_side: 'left',
    }) as unknown as Record<string, unknown>;
    expect(config).toMatchObject({
      dataset_mixer: { 'argilla/dpo-mix-7k': 1.0 },
      dataset_splits: ['train', 'test'],
      dataset_configs: null,
      auto_insert_empty_system_msg: true,
    });
    const notes = configNotes(config, trainerSchemas.orpo);
    for (const key of ['preprocessing_num_workers', 'use_flash_attention_2', 'truncation_side'])
      expect(notes.filter((n) => n.startsWith(`note: ${key}: `))).toHaveLength(1);
    expect(notes.some((n) => n.startsWith('note: dataset_mixer'))).toBe(false);
  });

  it('other trainers refuse dataset_mixer: their old scripts mapped rows differently', () => {
    expect(() => resolveConfig({ trainer: 'dpo', dataset_mixer: { a: 1 } }, 'old.yaml')).toThrow(
      /old\.yaml: unknown key 'dataset_mixer' for trainer dpo/,
    );
  });
});

describe('dataset_mixer / dataset_splits as mix_datasets loads them', () => {
  it('one source per dataset and split, in load order; "train" in the name is train, else "test" is test', () => {
    const sources = mixerSources(
      mixer({
        dataset_mixer: { a: 0.5, b: 1 },
        dataset_splits: ['train_prefs', 'test_prefs'],
        dataset_configs: ['x', null],
      }),
    );
    expect(sources).toEqual([
      { path: 'a', name: 'x', split: 'train_prefs', role: 'train', fraction: 0.5 },
      { path: 'a', name: 'x', split: 'test_prefs', role: 'test', fraction: 0.5 },
      { path: 'b', name: null, split: 'train_prefs', role: 'train', fraction: 1 },
      { path: 'b', name: null, split: 'test_prefs', role: 'test', fraction: 1 },
    ]);
    // The default splits are train and test.
    expect(mixerSources(mixer({ dataset_splits: null })).map((s) => s.role)).toEqual(['train', 'test']);
  });

  it('refuses what mix_datasets raises on, and two train splits (it would pair fractions with the wrong splits)', () => {
    expect(() => mixerSources(mixer({ dataset_splits: ['validation'] }))).toThrow(
      'dataset_splits: split type validation not recognized as one of test or train',
    );
    expect(() => mixerSources(mixer({ dataset_mixer: { a: -0.5 } }))).toThrow('dataset fractions cannot be negative');
    expect(() => mixerSources(mixer({ dataset_mixer: { a: 1, b: 1 }, dataset_configs: ['x'] }))).toThrow(
      'must be the same as the given number of datasets',
    );
    expect(() => mixerSources(mixer({ dataset_splits: ['train', 'train_sft'] }))).toThrow(
      /lists more than one train split/,
    );
    expect(() => mixerSources(mixer({ dataset_mixer: {} }))).toThrow('dataset_mixer: names no dataset');
  });

  it('train: the first int(fraction × rows) of each train split; test: every test split whole; each shuffled', () => {
    const sources = mixerSources(mixer({ dataset_mixer: { a: 0.25, b: 1 }, dataset_splits: ['train', 'test'] }));
    // a: train 10 rows (0..9), test 4 (10..13); b: train 6 (14..19), test 3 (20..22).
    const rows = mixerRows(sources, [10, 4, 6, 3]);
    expect([...rows.train].sort((x, y) => x - y)).toEqual([0, 1, 14, 15, 16, 17, 18, 19]);
    expect([...rows.test].sort((x, y) => x - y)).toEqual([10, 11, 12, 13, 20, 21, 22]);
    expect([...rows.train], 'shuffled with seed 42, not left in order').not.toEqual([0, 1, 14, 15, 16, 17, 18, 19]);
    // The same rows give the same order (a fixed seed, not the training seed).
    expect(mixerRows(sources, [10, 4, 6, 3])).toEqual(rows);
    expect(() => mixerRows(mixerSources(mixer({ dataset_mixer: { a: 1.5 } })), [4])).toThrow(
      'fraction 1.5 selects 6 rows of split train, which has 4',
    );
  });
});

describe("run_orpo.py's chat-template step (task orpo)", () => {
  const snapshots = join(fixturesDir, 'hub-cache', 'models--meta-llama--Meta-Llama-3-8B', 'snapshots');
  const modelDir = join(snapshots, readdirSync(snapshots)[0]!);
  const load = (chatTemplate: string) => Tokenizer.load(modelDir, { chatTemplate });
  const u = (content: string) => ({ role: 'user', content });
  const a = (content: string) => ({ role: 'assistant', content });

  it('the prompt is chosen[:-1] with an empty system message first; each part rendered alone', async () => {
    const tokenizer = await load(OLD_HANDBOOK_DEFAULT_TEMPLATE);
    const row = { prompt: 'hi', chosen: [u('hi'), a('yes')], rejected: [u('hi'), a('no')] };
    expect(renderOrpoRow(row, tokenizer, true, 'row')).toEqual({
      prompt: '<|system|>\n<|end_of_text|>\n<|user|>\nhi<|end_of_text|>\n',
      chosen: '<|assistant|>\nyes<|end_of_text|>\n',
      rejected: '<|assistant|>\nno<|end_of_text|>\n',
    });
    expect(renderOrpoRow(row, tokenizer, false, 'row').prompt).toBe('<|user|>\nhi<|end_of_text|>\n');
    const system = { ...row, chosen: [{ role: 'system', content: 'S' }, ...row.chosen] };
    expect(renderOrpoRow(system, tokenizer, true, 'row').prompt).toBe(
      '<|system|>\nS<|end_of_text|>\n<|user|>\nhi<|end_of_text|>\n',
    );
  });

  it('a prompt of messages is the prompt; no system message when the template never mentions one', async () => {
    const plain = await load("{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endfor %}");
    const row = { prompt: [u('q')], chosen: [a('yes')], rejected: [a('no')] };
    expect(renderOrpoRow(row, plain, true, 'row')).toEqual({
      prompt: 'user: q\n',
      chosen: 'assistant: yes\n',
      rejected: 'assistant: no\n',
    });
    expect(() => renderOrpoRow({ chosen: 'yes', rejected: 'no' }, plain, true, 'f: row 3')).toThrow(
      'f: row 3: could not format example as dialogue for the orpo task',
    );
  });

  it('refuses ChatML templates (run_orpo.py then called setup_chat_format) and eval without a test split', async () => {
    const output_dir = tempDir('handbook-mixer');
    const base = mixer({
      model_name_or_path: modelDir,
      output_dir,
      dataset_mixer: { 'argilla/OpenHermesPreferences': 1 },
    });
    await expect(
      resolveHandbookMixer({ ...base, chat_template: "{{ '<|im_start|>' }}" }, false, () => {}),
    ).rejects.toThrow(/chat_template: a ChatML template: the old run_orpo.py then called TRL's setup_chat_format/);
    await expect(resolveHandbookMixer({ ...base, eval_strategy: 'steps' }, true, () => {})).rejects.toThrow(
      "eval_strategy: 'steps' evaluates on dataset_mixer's test splits, and dataset_splits lists none",
    );
  });
});
