// Unpaired preference rows → token table equals TRL 1.13's KTOTrainer._prepare_dataset element for element
// (scripts/fixtures/make_trl_kto.py): every layout, fixture tokenizer, max_length, and loss type with and without
// the KL completions; and over 2,500 generated pairs, the order unpairing and KL batches give under dataset_num_proc.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { registerPreprocess } from '../../../src/cli/preprocess-command.js';
import { resolveConfig, type KtoConfig } from '../../../src/config/load-config.js';
import { idColumn, readArrowFile } from '../../../src/data/token-table.js';
import { labelColumn } from '../../../src/data/unpaired/label-column.js';
import { preprocessUnpaired } from '../../../src/data/unpaired/preprocess-unpaired.js';
import { fixturesDir, tempDir } from '../../helpers/fixtures.js';

interface Case {
  layout: string;
  tokenizer: string;
  max_length: number | null;
  rows: Record<string, unknown>[];
  expected: { prompt_ids: number[]; completion_ids: number[]; label: boolean }[];
  KL_completion_ids: Record<string, number[][]>;
}

const cases: Case[] = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'kto-tokens.json'), 'utf8'));

function configFor(
  tokenizer: string,
  rows: Record<string, unknown>[],
  settings: Record<string, unknown>,
  dir: string,
): KtoConfig {
  const data = join(dir, 'train.jsonl');
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return resolveConfig({
    trainer: 'kto',
    model_name_or_path: join(fixturesDir, 'tokenizers', tokenizer),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    ...settings,
  }) as KtoConfig;
}

function columns(table: Table): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = { label: Array.from(labelColumn(table), Boolean) };
  for (const { name } of table.schema.fields.filter((f) => f.name !== 'label')) {
    const { offsets, values } = idColumn(table, name);
    out[name] = Array.from({ length: offsets.length - 1 }, (_, i) =>
      Array.from(values.subarray(offsets[i], offsets[i + 1])),
    );
  }
  return out;
}

describe('preprocessUnpaired matches TRL', () => {
  // Per case: loss_type apo_zero_unpaired (no KL completions), then kto for each recorded batch size.
  const runs = cases.flatMap((c) =>
    [undefined, ...Object.keys(c.KL_completion_ids)].map((bs) => ({
      c,
      bs,
      settings: bs
        ? { max_length: c.max_length, loss_type: 'kto', per_device_train_batch_size: Number(bs) }
        : { max_length: c.max_length, loss_type: 'apo_zero_unpaired' },
    })),
  );
  it.each(runs.map((r) => [`${r.c.layout} / ${r.c.tokenizer} / ${JSON.stringify(r.settings)}`, r] as const))(
    '%s',
    async (_, { c, bs, settings }) => {
      const summary = await preprocessUnpaired(configFor(c.tokenizer, c.rows, settings, tempDir('kto')), {
        split: 'train',
      });
      const got = columns(await readArrowFile(summary.path));
      const unpairedRows = c.layout.startsWith('unpaired') ? c.rows.length : 2 * c.rows.length;
      expect(summary).toMatchObject({ rows: c.expected.length, dropped: unpairedRows - c.expected.length, skipped: 0 });
      expect(summary.desirable).toBe(c.expected.filter((r) => r.label).length);
      expect(got.prompt_ids).toEqual(c.expected.map((r) => r.prompt_ids));
      expect(got.completion_ids).toEqual(c.expected.map((r) => r.completion_ids));
      expect(got.label).toEqual(c.expected.map((r) => r.label));
      if (bs) expect(got.KL_completion_ids).toEqual(c.KL_completion_ids[bs]);
      else expect(got).not.toHaveProperty('KL_completion_ids');
    },
  );
});

describe('row order over many pairs matches TRL (1,000-row unpair batches, KL batches, dataset_num_proc shards)', () => {
  const ordering = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'kto-ordering.json'), 'utf8')) as {
    words: string[];
    cases: {
      tokenizer: string;
      pairs: number;
      settings: Record<string, unknown>;
      rows: number;
      digests: Record<string, string>;
    }[];
  };
  // make_trl_kto.py: generated_pairs
  const words = (i: number, n: number) =>
    Array.from({ length: n }, (_, j) => ordering.words[(7 * i + 3 * j) % ordering.words.length]).join(' ');
  const generated = (count: number) =>
    Array.from({ length: count }, (_, i) => ({
      prompt: `Q${i}: ${words(i, 1 + ((i * i) % 7))}`,
      chosen: ` yes ${words(i + 1, 1 + (i % 3))}`,
      rejected: ` no ${words(i + 2, 1 + (i % 4))}`,
    }));
  const digest = (column: unknown[]) => createHash('sha256').update(JSON.stringify(column)).digest('hex');

  it.each(ordering.cases.map((c) => [JSON.stringify(c.settings), c] as const))('%s', async (_, c) => {
    const summary = await preprocessUnpaired(
      configFor(c.tokenizer, generated(c.pairs), c.settings, tempDir('kto-order')),
      { split: 'train' },
    );
    const got = columns(await readArrowFile(summary.path));
    expect(summary).toMatchObject({ rows: c.rows, dropped: 2 * c.pairs - c.rows });
    for (const [column, expected] of Object.entries(c.digests)) expect(digest(got[column]!), column).toBe(expected);
    expect(Object.keys(got).sort()).toEqual(Object.keys(c.digests).sort());
  });
});

describe('preprocessUnpaired cache', () => {
  it('reuses the table while data, tokenizer and settings are unchanged, and redoes it when one changes', async () => {
    const c = cases.find((x) => x.layout === 'unpaired')!;
    const config = configFor(c.tokenizer, c.rows, {}, tempDir('kto-cache'));
    expect((await preprocessUnpaired(config, { split: 'train' })).cached).toBe(false);
    expect(await preprocessUnpaired(config, { split: 'train' })).toMatchObject({ cached: true, rows: c.rows.length });
    expect((await preprocessUnpaired({ ...config, per_device_train_batch_size: 3 }, { split: 'train' })).cached).toBe(
      false,
    );
    expect((await preprocessUnpaired({ ...config, loss_type: 'apo_zero_unpaired' }, { split: 'train' })).cached).toBe(
      false,
    );
    writeFileSync(config.train_dataset!, JSON.stringify(c.rows[0]) + '\n');
    expect(await preprocessUnpaired(config, { split: 'train' })).toMatchObject({
      cached: false,
      rows: 1,
      desirable: 1,
      undesirable: 0,
    });
  });
});

describe('alignkit preprocess', () => {
  it('tokenizes unpaired data for trainer: kto and prints the labels', async () => {
    const c = cases.find((x) => x.layout === 'paired' && x.max_length === null)!;
    const dir = tempDir('kto-cli');
    const config = configFor(c.tokenizer, c.rows, {}, dir);
    const path = join(dir, 'kto.json');
    writeFileSync(
      path,
      JSON.stringify({
        trainer: 'kto',
        model_name_or_path: config.model_name_or_path,
        train_dataset: config.train_dataset,
        output_dir: config.output_dir,
        per_device_train_batch_size: 2,
      }),
    );
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => printed.push(line));
    try {
      const program = new Command();
      registerPreprocess(program);
      await program.parseAsync(['preprocess', path], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    expect(printed.join('\n')).toContain(`train: ${c.expected.length} rows → ${join(dir, 'out', 'train.arrow')}`);
    expect(printed.join('\n')).toMatch(/^  completion tokens min \d+/m);
    expect(printed).toContain(`  labels           ${c.rows.length} desirable, ${c.rows.length} undesirable`);
  });
});
