// Preference rows → token table equals TRL 1.13's DPOTrainer._prepare_dataset element for element
// (scripts/fixtures/make_trl_preference_tokens.py), for every layout, fixture tokenizer and truncation setting.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type DpoConfig } from '../../src/config/load-config.js';
import { preprocessPreferences } from '../../src/data/preprocess-preference.js';
import { idColumn, readArrowFile } from '../../src/data/token-table.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { fixturesDir, tempDir } from '../helpers/fixtures.js';
import { useTemplateClock } from '../helpers/template-clock.js';

interface Case {
  layout: string;
  tokenizer: string;
  /** chat_template: a template file (repository-relative) the layout renders with instead of the tokenizer's. */
  settings: { max_length: number | null; truncation_mode: 'keep_start' | 'keep_end'; chat_template?: string };
  rows: Record<string, unknown>[];
  expected: { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }[];
}

const cases: Case[] = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'preference-tokens.json'), 'utf8'));
const repoRoot = join(fixturesDir, '..', '..');
// The thinking layout's template prints the day.
useTemplateClock();

function configFor(c: Case, dir: string): DpoConfig {
  const data = join(dir, 'train.jsonl');
  writeFileSync(data, c.rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return resolveConfig({
    trainer: 'dpo',
    model_name_or_path: join(fixturesDir, 'tokenizers', c.tokenizer),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    ...c.settings,
    ...(c.settings.chat_template !== undefined && { chat_template: join(repoRoot, c.settings.chat_template) }),
  }) as DpoConfig;
}

function column(table: Awaited<ReturnType<typeof readArrowFile>>, name: string): number[][] {
  const { offsets, values } = idColumn(table, name);
  return Array.from({ length: offsets.length - 1 }, (_, i) => Array.from(values.subarray(offsets[i], offsets[i + 1])));
}

describe('preprocessPreferences matches TRL', () => {
  it.each(cases.map((c) => [`${c.layout} / ${c.tokenizer} / ${JSON.stringify(c.settings)}`, c] as const))(
    '%s',
    async (_, c) => {
      const summary = await preprocessPreferences(configFor(c, tempDir('prep')), { split: 'train' });
      const table = await readArrowFile(summary.path);
      expect(summary.rows).toBe(c.expected.length);
      expect(summary.dropped).toBe(c.rows.length - c.expected.length);
      expect(column(table, 'prompt_ids')).toEqual(c.expected.map((r) => r.prompt_ids));
      expect(column(table, 'chosen_ids')).toEqual(c.expected.map((r) => r.chosen_ids));
      expect(column(table, 'rejected_ids')).toEqual(c.expected.map((r) => r.rejected_ids));
    },
  );
});

describe('large files', () => {
  it('keeps row order across chunks tokenized while the next chunk is read', async () => {
    const dir = tempDir('chunks');
    const data = join(dir, 'many.jsonl');
    const row = (i: number) => ({
      prompt: `Question ${i}: what is ${i} + ${i}?`,
      chosen: ` ${2 * i}`,
      rejected: ` ${2 * i + 1}`,
    });
    writeFileSync(data, Array.from({ length: 2500 }, (_, i) => JSON.stringify(row(i))).join('\n') + '\n');
    const config = resolveConfig({
      trainer: 'dpo',
      model_name_or_path: join(fixturesDir, 'tokenizers', 'chatml-bytelevel'),
      train_dataset: data,
      output_dir: join(dir, 'out'),
    }) as DpoConfig;
    const table = await readArrowFile((await preprocessPreferences(config, { split: 'train' })).path);
    const tokenizer = await Tokenizer.load(config.model_name_or_path!);
    const chosen = column(table, 'chosen_ids');
    expect(chosen).toHaveLength(2500);
    for (const i of [0, 1023, 1024, 2047, 2048, 2499]) {
      const prompt = await tokenizer.encode(row(i).prompt);
      const full = await tokenizer.encode(row(i).prompt + row(i).chosen + tokenizer.eosToken);
      expect(chosen[i], `row ${i}`).toEqual(full.slice(prompt.length));
    }
  });
});

describe('preprocess cache', () => {
  it('reuses the table while data, tokenizer and settings are unchanged, and redoes it when one changes', async () => {
    const c = cases.find((x) => x.layout === 'standard')!;
    const dir = tempDir('cache');
    const config = configFor(c, dir);
    expect((await preprocessPreferences(config, { split: 'train' })).cached).toBe(false);
    expect((await preprocessPreferences(config, { split: 'train' })).cached).toBe(true);
    expect((await preprocessPreferences({ ...config, max_length: 64 }, { split: 'train' })).cached).toBe(false);
    writeFileSync(config.train_dataset!, JSON.stringify(c.rows[0]) + '\n');
    const changed = await preprocessPreferences({ ...config, max_length: 64 }, { split: 'train' });
    expect(changed).toMatchObject({ cached: false, rows: 1 });
  });
});

describe('invalid rows', () => {
  const base = { trainer: 'dpo', model_name_or_path: join(fixturesDir, 'tokenizers', 'chatml-bytelevel') };

  it('name the file, row and field, or are skipped and counted with skip_invalid_rows', async () => {
    const dir = tempDir('invalid');
    const data = join(dir, 'bad.jsonl');
    writeFileSync(
      data,
      [
        JSON.stringify({ prompt: 'a', chosen: 'b', rejected: 'c' }),
        JSON.stringify({ prompt: 'a', chosen: '', rejected: 'c' }),
        JSON.stringify({ prompt: 'a', chosen: 'b' }),
        JSON.stringify({ prompt: 'a', chosen: 7, rejected: 'c' }),
        '{not json',
        JSON.stringify({ prompt: 'x', chosen: 'y', rejected: 'z' }),
      ].join('\n') + '\n',
    );
    const config = resolveConfig({ ...base, train_dataset: data, output_dir: join(dir, 'out') }) as DpoConfig;
    await expect(preprocessPreferences(config, { split: 'train' })).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: `${data}: row 1, field 'chosen': empty text`,
    });
    const logs: string[] = [];
    const summary = await preprocessPreferences(
      { ...config, skip_invalid_rows: true },
      { split: 'train', log: (m) => logs.push(m) },
    );
    expect(summary).toMatchObject({ rows: 2, skipped: 4 });
    expect(logs.filter((l) => l.startsWith('skipped:'))).toHaveLength(4);
    expect(logs.join('\n')).toMatch(/row 2: missing field 'rejected'/);
    expect(logs.join('\n')).toMatch(
      /row 3, field 'chosen': expected text or a list of \{role, content\} messages, got number 7/,
    );
    expect(logs.join('\n')).toMatch(/skipped 4 invalid row\(s\)/);
  });

  it('maps other column names with dataset_columns', async () => {
    const dir = tempDir('columns');
    const data = join(dir, 'pairs.jsonl');
    writeFileSync(data, JSON.stringify({ instruction: 'Say hi', good: 'Hi!', bad: 'No.' }) + '\n');
    const config = resolveConfig({
      ...base,
      train_dataset: data,
      output_dir: join(dir, 'out'),
      dataset_columns: { prompt: 'instruction', chosen: 'good', rejected: 'bad' },
    }) as DpoConfig;
    expect((await preprocessPreferences(config, { split: 'train' })).rows).toBe(1);
  });

  it('a chat template that fails names the row it failed on', async () => {
    const dir = tempDir('template-error');
    const data = join(dir, 'chat.jsonl');
    const turn = (role: string, content: string) => ({ role, content });
    writeFileSync(
      data,
      [
        JSON.stringify({
          prompt: [turn('user', 'hi')],
          chosen: [turn('assistant', 'a')],
          rejected: [turn('assistant', 'b')],
        }),
        JSON.stringify({
          prompt: [turn('user', 'hi')],
          chosen: [turn('assistant', 'a')],
          rejected: [turn('assistant', 'b')],
        }),
      ].join('\n') + '\n',
    );
    const config = resolveConfig({
      ...base,
      train_dataset: data,
      output_dir: join(dir, 'out'),
      chat_template: join(fixturesDir, 'tokenizers', 'templates', 'raises.jinja'),
    }) as DpoConfig;
    await expect(preprocessPreferences(config, { split: 'train' })).rejects.toMatchObject({
      code: 'ERR_INVALID_DATA',
      message: expect.stringMatching(new RegExp(`^${data}: row 0: chat template: `)),
    });
  });
});
