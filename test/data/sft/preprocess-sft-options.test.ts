// preprocessSft around the TRL parity cases: the cache, invalid rows, the settings TRL refuses, eval packing,
// shuffle_dataset, and the summary.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type SftConfig } from '../../../src/config/load-config.js';
import { preprocessSft } from '../../../src/data/sft/preprocess-sft.js';
import { idColumn, readArrowFile } from '../../../src/data/token-table.js';
import { fixturesDir, tempDir } from '../../helpers/fixtures.js';

const chatml = join(fixturesDir, 'tokenizers', 'chatml-bytelevel');
const qwen3Training = join(fixturesDir, 'trl', 'sft-qwen3_training.jinja');
const turn = (role: string, content: string) => ({ role, content });
const chat = (answer: string) => ({ messages: [turn('user', 'Question?'), turn('assistant', answer)] });

function setup(rows: unknown[], settings: Record<string, unknown> = {}, lines?: string[]): SftConfig {
  const dir = tempDir('sft-options');
  const data = join(dir, 'train.jsonl');
  writeFileSync(data, (lines ?? rows.map((r) => JSON.stringify(r))).join('\n') + '\n');
  return resolveConfig({
    trainer: 'sft',
    model_name_or_path: chatml,
    train_dataset: data,
    output_dir: join(dir, 'out'),
    ...settings,
  }) as SftConfig;
}

async function inputIds(path: string): Promise<number[][]> {
  const { offsets, values } = idColumn(await readArrowFile(path), 'input_ids');
  return Array.from({ length: offsets.length - 1 }, (_, i) => Array.from(values.subarray(offsets[i], offsets[i + 1])));
}

describe('preprocessSft cache', () => {
  it('reuses the table while data, tokenizer, template and settings are unchanged', async () => {
    const dir = tempDir('sft-cache');
    const template = join(dir, 'template.jinja');
    writeFileSync(template, '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}');
    const config = setup([chat('A'), chat('B')], { chat_template_path: template });
    expect((await preprocessSft(config, { split: 'train' })).cached).toBe(false);
    expect((await preprocessSft(config, { split: 'train' })).cached).toBe(true);
    expect((await preprocessSft({ ...config, max_length: 3 }, { split: 'train' })).cached).toBe(false);
    writeFileSync(template, '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}');
    expect((await preprocessSft({ ...config, max_length: 3 }, { split: 'train' })).cached).toBe(false);
    writeFileSync(config.train_dataset!, JSON.stringify(chat('C')) + '\n');
    expect(await preprocessSft({ ...config, max_length: 3 }, { split: 'train' })).toMatchObject({
      cached: false,
      rows: 1,
    });
  });
});

describe('invalid rows', () => {
  it('name the file, row and field, or are skipped and counted with skip_invalid_rows', async () => {
    const config = setup([], {}, [
      JSON.stringify({ text: 'fine' }),
      JSON.stringify({ text: 5 }),
      JSON.stringify({ prompt: 'p', completion: 'c' }),
      '{not json',
      JSON.stringify({ text: 'also fine' }),
    ]);
    const data = config.train_dataset!;
    await expect(preprocessSft(config, { split: 'train' })).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: `${data}: row 1, field 'text': expected text, got number 5`,
    });
    const logs: string[] = [];
    const summary = await preprocessSft(
      { ...config, skip_invalid_rows: true },
      { split: 'train', log: (m) => logs.push(m) },
    );
    expect(summary).toMatchObject({ rows: 2, examples: 2, skipped: 3 });
    expect(logs.join('\n')).toMatch(/row 2: is a prompt_completion row but row 0 is text: a dataset holds one format/);
    expect(logs.join('\n')).toMatch(/skipped 3 invalid row\(s\)/);
  });

  it('a chat template that fails, or marks no assistant token, names the row', async () => {
    await expect(
      preprocessSft(
        setup([chat('a'), chat('b')], { chat_template: join(fixturesDir, 'tokenizers', 'templates', 'raises.jinja') }),
        { split: 'train' },
      ),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(/train\.jsonl: row 0: chat template: /),
    });
    const noAssistant = setup([chat('a'), { messages: [turn('user', 'only a question')] }], {
      assistant_only_loss: true,
      chat_template_path: qwen3Training,
    });
    await expect(preprocessSft(noAssistant, { split: 'train' })).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(/train\.jsonl: row 1: assistant_only_loss: no assistant tokens in this row/),
    });
  });

  it('maps other column names with dataset_columns', async () => {
    const config = setup([{ instruction: 'Say hi', output: 'Hi!' }], {
      dataset_columns: { prompt: 'instruction', completion: 'output' },
    });
    expect((await preprocessSft(config, { split: 'train' })).lengths.trained.max).toBeGreaterThan(0);
  });
});

describe('settings TRL refuses', () => {
  it.each([
    [{ packing: true, max_length: null }, /packing needs max_length/],
    [{ padding_free: true }, /padding_free without packing does not enforce max_length/],
    [{ assistant_only_loss: true }, /assistant_only_loss needs a chat template with \{% generation %\}/],
    [{ eos_token: '<|not-a-token|>' }, /eos_token '<\|not-a-token\|>' is not in the tokenizer's vocabulary/],
    [{ chat_template_path: 'Qwen/Qwen3-0.6B' }, /chat_template_path 'Qwen\/Qwen3-0.6B': only a \.jinja or \.j2 file/],
    [
      { chat_template_path: qwen3Training, chat_template: 'chatml' },
      /set chat_template or chat_template_path, not both/,
    ],
  ])('%j', async (settings, message) => {
    await expect(preprocessSft(setup([chat('a')], settings), { split: 'train' })).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message,
    });
  });

  it('assistant_only_loss on a dataset that is not conversational', async () => {
    const config = setup([{ text: 'plain' }], { assistant_only_loss: true, chat_template_path: qwen3Training });
    await expect(preprocessSft(config, { split: 'train' })).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      message: expect.stringMatching(/assistant_only_loss needs a conversational dataset/),
    });
  });
});

describe('packing, eval_packing and shuffle_dataset', () => {
  const rows = Array.from({ length: 40 }, (_, i) => ({ text: `row ${i} `.repeat(1 + (i % 4)) }));

  it('packs eval data per eval_packing (default: as train)', async () => {
    const config = setup(rows, { packing: true, max_length: 32 });
    const evalConfig = { ...config, eval_dataset: config.train_dataset };
    const train = await preprocessSft(evalConfig, { split: 'train' });
    expect(train).toMatchObject({ packed: true, examples: 40 });
    expect(train.rows).toBeLessThan(40);
    expect((await preprocessSft(evalConfig, { split: 'eval' })).rows).toBe(train.rows);
    const unpacked = await preprocessSft({ ...evalConfig, eval_packing: false }, { split: 'eval' });
    expect(unpacked).toMatchObject({ packed: false, rows: 40, dropped: 0 });
    expect(unpacked.lengths.input_ids.max).toBeLessThanOrEqual(32);
  });

  it("shuffle_dataset reorders rows reproducibly (alignkit's seeded shuffle, not numpy's)", async () => {
    const plain = await inputIds((await preprocessSft(setup(rows), { split: 'train' })).path);
    const once = await inputIds((await preprocessSft(setup(rows, { shuffle_dataset: true }), { split: 'train' })).path);
    const again = await inputIds(
      (await preprocessSft(setup(rows, { shuffle_dataset: true }), { split: 'train' })).path,
    );
    expect(once).toEqual(again);
    expect(once).not.toEqual(plain);
    expect([...once].sort()).toEqual([...plain].sort());
    const packed = await preprocessSft(setup(rows, { shuffle_dataset: true, packing: true, max_length: 32 }), {
      split: 'train',
    });
    expect((await inputIds(packed.path)).flat().sort()).toEqual(plain.flat().sort());
  });
});
