// SFT rows → token table equals TRL 1.13's SFTTrainer._prepare_dataset element for element, and batches equal
// DataCollatorForLanguageModeling's (scripts/fixtures/make_trl_sft.py), for every layout, fixture tokenizer and
// setting; packing over 2,500 generated rows matches TRL's per-map-batch and per-shard packing.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type SftConfig } from '../../../src/config/load-config.js';
import { preprocessSft } from '../../../src/data/sft/preprocess-sft.js';
import { collateSft, sftCollateOptions, sftColumns, type SftBatch } from '../../../src/data/sft/sft-collator.js';
import { idColumn, readArrowFile } from '../../../src/data/token-table.js';
import { Tokenizer } from '../../../src/tokenizer/index.js';
import { fixturesDir, tempDir } from '../../helpers/fixtures.js';
import { useTemplateClock } from '../../helpers/template-clock.js';

type Rows = Record<string, unknown>[];
type Columns = Record<string, number[][]>;

interface TrlBatch {
  indices: number[];
  options: {
    pad_token_id: number;
    padding_free: boolean;
    pad_to_multiple_of: number | null;
    return_position_ids?: boolean;
  };
  batch: { input_ids: number[][]; labels: number[][]; attention_mask?: number[][]; position_ids?: number[][] };
}

interface Case {
  dataset: string;
  tokenizer: string;
  settings: Record<string, unknown>;
  expected: { input_ids: number[]; labels: number[]; seq_lengths?: number[] }[];
  batches?: TrlBatch[];
}

const repoRoot = join(fixturesDir, '..', '..');
// smollm3_style.jinja prints the day.
useTemplateClock();
const { datasets, cases } = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'sft-tokens.json'), 'utf8')) as {
  datasets: Record<string, Rows>;
  cases: Case[];
};

function configFor(tokenizer: string, rows: Rows, settings: Record<string, unknown>, dir: string): SftConfig {
  const data = join(dir, 'train.jsonl');
  writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const { chat_template_path: template, ...rest } = settings;
  return resolveConfig({
    trainer: 'sft',
    model_name_or_path: join(fixturesDir, 'tokenizers', tokenizer),
    train_dataset: data,
    output_dir: join(dir, 'out'),
    ...rest,
    ...(typeof template === 'string' ? { chat_template_path: join(repoRoot, template) } : {}),
  }) as SftConfig;
}

function columns(table: Awaited<ReturnType<typeof readArrowFile>>): Columns {
  const out: Columns = {};
  for (const { name } of table.schema.fields) {
    const { offsets, values } = idColumn(table, name);
    out[name] = Array.from({ length: offsets.length - 1 }, (_, i) =>
      Array.from(values.subarray(offsets[i], offsets[i + 1])),
    );
  }
  return out;
}

/** The batch as TRL's tensors: nested lists, one per row. */
function nested(batch: SftBatch): TrlBatch['batch'] {
  const rows = (a: ArrayLike<number>) =>
    Array.from({ length: batch.rows }, (_, r) =>
      Array.from(Array.prototype.slice.call(a, r * batch.seqLen, (r + 1) * batch.seqLen) as number[]),
    );
  return {
    input_ids: rows(batch.inputIds),
    labels: rows(batch.labels),
    ...(batch.attentionMask ? { attention_mask: rows(batch.attentionMask) } : {}),
    ...(batch.positionIds ? { position_ids: rows(batch.positionIds) } : {}),
  };
}

const name = (c: Case) => `${c.dataset} / ${c.tokenizer} / ${JSON.stringify(c.settings)}`;

describe('preprocessSft matches TRL _prepare_dataset', () => {
  it.each(cases.map((c) => [name(c), c] as const))('%s', async (_, c) => {
    const config = configFor(c.tokenizer, datasets[c.dataset]!, c.settings, tempDir('sft'));
    const summary = await preprocessSft(config, { split: 'train' });
    const got = columns(await readArrowFile(summary.path));
    expect(summary.rows).toBe(c.expected.length);
    expect(got.input_ids).toEqual(c.expected.map((r) => r.input_ids));
    expect(got.labels).toEqual(c.expected.map((r) => r.labels));
    if (c.expected[0]?.seq_lengths) expect(got.seq_lengths).toEqual(c.expected.map((r) => r.seq_lengths));
    else expect(got.seq_lengths).toBeUndefined();
  });
});

describe('collateSft matches TRL DataCollatorForLanguageModeling', () => {
  const withBatches = cases.filter((c) => c.batches);
  it.each(withBatches.map((c) => [name(c), c] as const))('%s', async (_, c) => {
    const config = configFor(c.tokenizer, datasets[c.dataset]!, c.settings, tempDir('sft-collate'));
    const table = await readArrowFile((await preprocessSft(config, { split: 'train' })).path);
    const tokenizer = await Tokenizer.load(config.model_name_or_path!);
    const trainer = c.batches![0]!.options;
    expect(sftCollateOptions(config, tokenizer)).toEqual({
      padTokenId: trainer.pad_token_id,
      paddingFree: trainer.padding_free,
      padToMultipleOf: trainer.pad_to_multiple_of,
    });
    for (const { indices, options, batch } of c.batches!) {
      const got = collateSft(sftColumns(table), indices, {
        padTokenId: options.pad_token_id,
        paddingFree: options.padding_free,
        padToMultipleOf: options.pad_to_multiple_of,
        returnPositionIds: options.return_position_ids,
      });
      expect(nested(got), JSON.stringify({ indices, options })).toEqual(batch);
    }
  });
});

describe('packing over many rows matches TRL (1,000-row map batches, dataset_num_proc shards)', () => {
  const packing = JSON.parse(readFileSync(join(fixturesDir, 'trl', 'sft-packing.json'), 'utf8')) as {
    words: string[];
    cases: {
      tokenizer: string;
      rows: number;
      settings: Record<string, unknown>;
      packed_rows: number;
      digests: Record<string, string>;
    }[];
  };
  // make_trl_sft.py: generated_rows
  const generated = (count: number) =>
    Array.from({ length: count }, (_, i) => ({
      text: Array.from(
        { length: 1 + ((i * i) % 9) },
        (_, j) => packing.words[(7 * i + 3 * j) % packing.words.length],
      ).join(' '),
    }));
  const digest = (rows: number[][]) => createHash('sha256').update(JSON.stringify(rows)).digest('hex');

  it.each(packing.cases.map((c) => [JSON.stringify(c.settings), c] as const))('%s', async (_, c) => {
    const config = configFor(c.tokenizer, generated(c.rows), c.settings, tempDir('sft-pack'));
    const summary = await preprocessSft(config, { split: 'train' });
    const got = columns(await readArrowFile(summary.path));
    expect(summary).toMatchObject({ rows: c.packed_rows, examples: c.rows, packed: true });
    for (const [column, expected] of Object.entries(c.digests)) expect(digest(got[column]!), column).toBe(expected);
    expect(Object.keys(got).sort()).toEqual(Object.keys(c.digests).sort());
  });
});
