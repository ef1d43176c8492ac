// Unpaired rows: what a row may hold (labels, layouts), what unpairing does, and how bad rows and settings are
// reported: errors name the file, row and field, and skip_invalid_rows skips and counts them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type KtoConfig } from '../../../src/config/load-config.js';
import { idColumn, readArrowFile } from '../../../src/data/token-table.js';
import { preprocessUnpaired } from '../../../src/data/unpaired/preprocess-unpaired.js';
import { toUnpairedRow, unpairBatch } from '../../../src/data/unpaired/unpaired-rows.js';
import { fixturesDir, tempDir } from '../../helpers/fixtures.js';

const at = { file: 'data.jsonl', row: 4 };
const turn = (role: string, content: string) => ({ role, content });

function example(values: Record<string, unknown>) {
  const row = toUnpairedRow(values, at);
  if (row.paired) throw new Error('expected an unpaired row');
  return row.example;
}

describe('toUnpairedRow', () => {
  it('reads prompt/completion/label as text or messages', () => {
    expect(example({ prompt: 'Hi', completion: ' there', label: true })).toMatchObject({
      prompt: 'Hi',
      completion: ' there',
      label: true,
      conversational: false,
      at,
    });
    expect(
      example({
        prompt: [turn('user', 'Hi')],
        completion: [turn('assistant', 'Yo')],
        label: false,
        tools: '[{"name": "f"}]',
      }),
    ).toMatchObject({ conversational: true, label: false, tools: [{ name: 'f' }] });
    expect(example({ prompt: '', completion: 'x', label: 1 }).prompt).toBe('');
  });

  it('takes 0/1 and the CSV spellings pandas reads as booleans for labels, nothing else', () => {
    for (const [value, label] of [
      [1, true],
      [0, false],
      ['True', true],
      ['false', false],
      ['1', true],
      ['0', false],
    ] as const) {
      expect(example({ prompt: 'p', completion: 'c', label: value }).label, String(value)).toBe(label);
    }
    for (const [value, got] of [
      ['yes', 'string "yes"'],
      [2, 'number 2'],
      [[true], 'a list'],
    ] as const) {
      expect(() => example({ prompt: 'p', completion: 'c', label: value })).toThrow(
        `data.jsonl: row 4, field 'label': expected true (desirable) or false (undesirable), or 1/0, got ${got}`,
      );
    }
  });

  it('reads chosen/rejected rows as pairs, in every preference layout', () => {
    const row = toUnpairedRow({ chosen: 'Q: 2+2? A: 4', rejected: 'Q: 2+2? A: 5' }, at);
    expect(row).toMatchObject({ paired: true, pair: { prompt: 'Q: 2+2? A:', chosen: ' 4', rejected: ' 5' } });
  });

  it('names what is missing or wrong', () => {
    expect(() => toUnpairedRow({ prompt: 'p', completion: 'c' }, at)).toThrow(
      /^data\.jsonl: row 4: missing field 'label' \(unpaired rows need prompt, completion and label; preference rows chosen and rejected; found prompt, completion;/,
    );
    expect(() => toUnpairedRow({ completion: 'c', label: true }, at)).toThrow(/row 4: missing field 'prompt'/);
    expect(() => toUnpairedRow({ prompt: 'p', completion: '', label: true }, at)).toThrow(
      "data.jsonl: row 4, field 'completion': empty text",
    );
    expect(() =>
      toUnpairedRow({ prompt: [turn('user', 'p')], completion: [turn('assistant', '')], label: true }, at),
    ).toThrow("row 4, field 'completion': every message is empty");
    expect(() => toUnpairedRow({ prompt: 'p', completion: [turn('assistant', 'c')], label: true }, at)).toThrow(
      /row 4, field 'completion'/,
    );
    expect(() => toUnpairedRow({ prompt: 'p', chosen: 'c' }, at)).toThrow(/row 4: missing field 'rejected'/);
  });
});

describe('unpairBatch', () => {
  it("puts every chosen completion before every rejected one, as TRL's _unpair_row", () => {
    const pairs = ['a', 'b', 'c'].map((p) => {
      const row = toUnpairedRow({ prompt: p, chosen: `${p}+`, rejected: `${p}-` }, at);
      if (!row.paired) throw new Error('expected a pair');
      return row.pair;
    });
    expect(unpairBatch(pairs).map((e) => [e.prompt, e.completion, e.label])).toEqual([
      ['a', 'a+', true],
      ['b', 'b+', true],
      ['c', 'c+', true],
      ['a', 'a-', false],
      ['b', 'b-', false],
      ['c', 'c-', false],
    ]);
  });
});

describe('preprocessUnpaired: invalid rows and settings', () => {
  const base = {
    trainer: 'kto',
    model_name_or_path: join(fixturesDir, 'tokenizers', 'chatml-bytelevel'),
    per_device_train_batch_size: 2,
  };

  function configFor(lines: string[], extra: Record<string, unknown> = {}, name = 'train.jsonl'): KtoConfig {
    const dir = tempDir('kto-rows');
    const data = join(dir, name);
    writeFileSync(data, lines.join('\n') + '\n');
    return resolveConfig({ ...base, train_dataset: data, output_dir: join(dir, 'out'), ...extra }) as KtoConfig;
  }

  it('name the file, row and field, or are skipped and counted with skip_invalid_rows', async () => {
    const config = configFor([
      JSON.stringify({ prompt: 'a', completion: 'b', label: true }),
      JSON.stringify({ prompt: 'a', completion: 'b' }),
      JSON.stringify({ prompt: 'a', completion: 'b', label: 'maybe' }),
      JSON.stringify({ prompt: 'a', completion: '', label: false }),
      '{not json',
      JSON.stringify({ prompt: 'a', chosen: 'b', rejected: 'c' }),
      JSON.stringify({ prompt: 'x', completion: 'y', label: false }),
    ]);
    const data = config.train_dataset!;
    await expect(preprocessUnpaired(config, { split: 'train' })).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(new RegExp(`^${data}: row 1: missing field 'label'`)),
    });
    const logs: string[] = [];
    const summary = await preprocessUnpaired(
      { ...config, skip_invalid_rows: true },
      { split: 'train', log: (m) => logs.push(m) },
    );
    expect(summary).toMatchObject({ rows: 2, skipped: 5, desirable: 1, undesirable: 1 });
    const text = logs.join('\n');
    expect(logs.filter((l) => l.startsWith('skipped:'))).toHaveLength(5);
    expect(text).toMatch(
      /row 2, field 'label': expected true \(desirable\) or false \(undesirable\), or 1\/0, got string "maybe"/,
    );
    expect(text).toMatch(/row 3, field 'completion': empty text/);
    expect(text).toMatch(
      /row 5: is a preference pair \(chosen\/rejected\) but row 0 is an unpaired row \(prompt\/completion\/label\): a dataset holds one format/,
    );
    expect(text).toMatch(/skipped 5 invalid row\(s\)/);
  });

  it('reads labels from CSV text and maps other column names with dataset_columns', async () => {
    const config = configFor(
      ['question,answer,good', 'Say hi,Hi!,True', 'Say hi,Go away.,False', 'Say bye,Bye.,1'],
      { dataset_columns: { prompt: 'question', completion: 'answer', label: 'good' } },
      'train.csv',
    );
    expect(await preprocessUnpaired(config, { split: 'train' })).toMatchObject({
      rows: 3,
      desirable: 2,
      undesirable: 1,
    });
  });

  it('warns as TRL does when the loss weights do not balance desirable and undesirable rows', async () => {
    const row = (label: boolean) => JSON.stringify({ prompt: 'p', completion: 'c', label });
    const logs: string[] = [];
    await preprocessUnpaired(configFor([row(true), row(true), row(true), row(false)]), {
      split: 'train',
      log: (m) => logs.push(m),
    });
    expect(logs.join('\n')).toMatch(
      /3 desirable and 1 undesirable rows.*desirable_weight in \[0\.33, 0\.44\] OR undesirable_weight in \[2\.26, 3\]/,
    );
    logs.length = 0;
    await preprocessUnpaired(configFor([row(true), row(true), row(true), row(false)], { undesirable_weight: 2.5 }), {
      split: 'train',
      log: (m) => logs.push(m),
    });
    expect(logs).toEqual([]);
  });

  it('cuts prompts and completions with the pre-1.0 max_prompt_length / max_completion_length', async () => {
    const lines = [JSON.stringify({ prompt: 'What is two plus two?', completion: ' It is four.', label: true })];
    const full = await readArrowFile((await preprocessUnpaired(configFor(lines), { split: 'train' })).path);
    const cut = await readArrowFile(
      (
        await preprocessUnpaired(configFor(lines, { max_prompt_length: 3, max_completion_length: 2 }), {
          split: 'train',
        })
      ).path,
    );
    const ids = (t: typeof full, name: string) => {
      const { offsets, values } = idColumn(t, name);
      return Array.from(values.subarray(offsets[0], offsets[1]));
    };
    expect(ids(cut, 'prompt_ids')).toEqual(ids(full, 'prompt_ids').slice(-3));
    expect(ids(cut, 'completion_ids')).toEqual(ids(full, 'completion_ids').slice(0, 2));
  });

  it('refuses the settings TRL refuses for the KL term', async () => {
    const lines = [JSON.stringify({ prompt: 'a', completion: 'b', label: true })];
    await expect(
      preprocessUnpaired(configFor(lines, { train_sampling_strategy: 'random' }), { split: 'train' }),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: expect.stringMatching(/needs train_sampling_strategy 'sequential'/),
    });
    await expect(
      preprocessUnpaired(configFor(lines, { per_device_train_batch_size: 1 }), { split: 'train' }),
    ).rejects.toThrow(/loss_type 'kto' needs per_device_train_batch_size > 1/);
    const noKl = configFor(lines, {
      loss_type: 'apo_zero_unpaired',
      per_device_train_batch_size: 1,
      train_sampling_strategy: 'random',
    });
    expect((await preprocessUnpaired(noKl, { split: 'train' })).rows).toBe(1);
  });
});
