#!/usr/bin/env node
// Preference data throughput: alignkit vs TRL 1.13 (datasets.map + DataCollatorForPreference), same rows, same
// machine, one run.
//
//   npm run bench:data -- [--rows N] [--batch B] [--max-length L] [--keep]
//
// data_trl.py runs first and alone (the two sides never share the 2 cores): it writes N seeded preference rows
// as JSON Lines in a standard (text) and a conversational (messages) variant, times TRL on them and writes its
// first rows and one collated batch for the equality check. Then this process times alignkit on the same files
// with the same tokenizer (test/fixtures/tokenizers/chatml-bytelevel):
//
//   tokenize(+read)  alignkit: preprocessPreferences, cold (fresh output_dir: no fingerprint cache), which reads
//                    the JSONL, loads the tokenizer, tokenizes and writes train.arrow.
//                    TRL: load_dataset('json') + AutoTokenizer.from_pretrained + DPOTrainer._prepare_dataset
//                    (datasets caching off, dataset_num_proc=None), i.e. the same three jobs.
//   batch            alignkit: read train.arrow, idColumn x3, epochOrder (shuffled, seed 42) + batchesOf +
//                    collatePreference over every row. TRL: remove_unused_columns + torch DataLoader (RandomSampler
//                    seeded 42, num_workers=0) with DataCollatorForPreference over every row.
//   total            both, rows = input rows.
//
// rows/s counts preference rows (pairs): input rows for tokenize and total, rows left after TRL's max_length
// drop for batch. Prints figures only; never asserts on speed. Exits non-zero only when alignkit's tokens or
// a collated batch differ from TRL's (then the comparison is not like for like).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDist, referencePython, root } from './setup.mjs';

const TOKENIZER = join(root, 'test/fixtures/tokenizers/chatml-bytelevel');
const SEED = 42;

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '8' },
    'max-length': { type: 'string', default: '1024' },
    keep: { type: 'boolean', default: false },
  },
});
const rows = Number(opts.rows);
const batchSize = Number(opts.batch);
const maxLength = Number(opts['max-length']);
for (const [k, v] of Object.entries({ rows, batch: batchSize, 'max-length': maxLength })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
}

ensureDist();
const { resolveConfig } = await import('../../dist/config/load-config.js');
const { preprocessPreferences } = await import('../../dist/data/preprocess-preference.js');
const { readArrowFile, idColumn } = await import('../../dist/data/token-table.js');
const { epochOrder, batchesOf } = await import('../../dist/data/sampler.js');
const { collatePreference } = await import('../../dist/data/preference-collator.js');
const { readRows } = await import('../../dist/data/readers/index.js');
const { toPreferenceExample } = await import('../../dist/data/preference-rows.js');
const { Tokenizer } = await import('../../dist/tokenizer/index.js');

const python = referencePython();

const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
const cpuSeconds = (c0) => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
};

/** First difference between alignkit's table/batch and TRL's, or null. */
function firstMismatch(columns, ref, collate) {
  for (const [r, expected] of ref.rows.entries()) {
    for (const [key, column] of Object.entries(columns)) {
      const ours = Array.from(column.values.subarray(column.offsets[r], column.offsets[r + 1]));
      const theirs = expected[`${key}_ids`];
      if (ours.length !== theirs.length || ours.some((id, i) => id !== theirs[i])) {
        const at = ours.findIndex((id, i) => id !== theirs[i]);
        return (
          `row ${r} ${key}_ids: alignkit ${ours.length} ids, TRL ${theirs.length}; first difference at ${at}` +
          ` (alignkit ${ours[at]}, TRL ${theirs[at]})`
        );
      }
    }
  }
  const batch = collate(ref.batch.indices);
  const shape = [2 * batch.pairs, batch.seqLen];
  const theirShape = [ref.batch.input_ids.length, ref.batch.input_ids[0]?.length ?? 0];
  if (shape[0] !== theirShape[0] || shape[1] !== theirShape[1]) {
    return `batch ${JSON.stringify(ref.batch.indices)}: shape alignkit ${shape} vs TRL ${theirShape}`;
  }
  for (const [name, ours] of [
    ['input_ids', batch.inputIds],
    ['attention_mask', batch.attentionMask],
    ['completion_mask', batch.completionMask],
  ]) {
    const theirs = ref.batch[name].flat();
    const at = theirs.findIndex((v, i) => v !== ours[i]);
    if (at !== -1) return `batch ${JSON.stringify(ref.batch.indices)} ${name}: first difference at flat index ${at}`;
  }
  return null;
}

async function alignkitSide(file, ref, padTokenId) {
  const outputDir = mkdtempSync(join(tmpdir(), 'alignkit-bench-data-out-')); // fresh: a cold run, no cache
  try {
    const config = resolveConfig({
      trainer: 'dpo',
      model_name_or_path: TOKENIZER,
      train_dataset: file,
      output_dir: outputDir,
      max_length: maxLength,
    });
    const log = [];
    let c0 = process.cpuUsage();
    let t0 = process.hrtime.bigint();
    const summary = await preprocessPreferences(config, { split: 'train', log: (m) => log.push(m) });
    const tokenizeSeconds = seconds(t0);
    const tokenizeCpu = cpuSeconds(c0);
    if (summary.cached) throw new Error('bench: preprocessPreferences reused a cache; the run is not cold');

    c0 = process.cpuUsage();
    t0 = process.hrtime.bigint();
    const table = await readArrowFile(summary.path);
    const columns = {
      prompt: idColumn(table, 'prompt_ids'),
      chosen: idColumn(table, 'chosen_ids'),
      rejected: idColumn(table, 'rejected_ids'),
    };
    const collateOptions = { padTokenId, maxLength, truncationMode: config.truncation_mode, padToMultipleOf: null };
    const order = epochOrder(table.numRows, { seed: SEED, epoch: 0, shuffle: true });
    let batches = 0;
    let padded = 0;
    for (const indices of batchesOf(order, batchSize, false)) {
      const b = collatePreference(columns, indices, collateOptions);
      batches++;
      padded += b.inputIds.length;
    }
    const batchSeconds = seconds(t0);
    const batchCpu = cpuSeconds(c0);

    // Not part of the comparison: what reading + parsing the JSONL alone costs inside preprocessPreferences.
    t0 = process.hrtime.bigint();
    let read = 0;
    for await (const { values, file: f, row } of readRows(file, {})) {
      toPreferenceExample(values, { file: f, row });
      read++;
    }
    const readSeconds = seconds(t0);

    const mismatch = firstMismatch(columns, ref, (indices) => collatePreference(columns, indices, collateOptions));
    return {
      rows: summary.rows,
      dropped: summary.dropped,
      prefixMismatches: summary.prefixMismatches,
      log,
      tokenizeSeconds,
      tokenizeCpu,
      batchSeconds,
      batchCpu,
      batches,
      padded,
      readSeconds,
      read,
      mismatch,
    };
  } finally {
    rmSync(outputDir, { recursive: true, force: true });
  }
}

const loadBefore = loadavg()[0];
const dir = mkdtempSync(join(tmpdir(), 'alignkit-bench-data-'));
let failed = false;
try {
  console.error(`bench: TRL side (${python}), ${rows} rows x 2 variants`);
  const pyOut = execFileSync(
    python,
    [
      join(root, 'scripts/bench/data_trl.py'),
      dir,
      '--rows',
      String(rows),
      '--batch',
      String(batchSize),
      '--max-length',
      String(maxLength),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
  );
  const trl = JSON.parse(pyOut.trim().split('\n').at(-1));
  const reference = JSON.parse(readFileSync(join(dir, 'trl_reference.json'), 'utf8'));

  console.error('bench: alignkit side');
  const padTokenId = (await Tokenizer.load(TOKENIZER)).padTokenId;
  const ak = {};
  for (const variant of Object.keys(trl.variants)) {
    ak[variant] = await alignkitSide(join(dir, `${variant}.jsonl`), reference[variant], padTokenId);
    console.error(
      `bench: ${variant}: preprocess ${ak[variant].tokenizeSeconds.toFixed(2)}s, batch ${ak[variant].batchSeconds.toFixed(2)}s`,
    );
  }
  const loadAfter = loadavg()[0];

  // --- report ---
  const f = (x, d = 0) => x.toFixed(d);
  console.log(
    `\npreference data, ${rows} rows per variant (prompts 50-300 words, completions 20-200, some non-ASCII), ` +
      `tokenizer ${relative(root, TOKENIZER)}, max_length ${maxLength} (keep_start), batch ${batchSize} pairs, shuffle seed ${SEED}`,
  );
  console.log(
    `cpu: ${cpus()[0]?.model ?? '?'} (${cpus().length} logical); load average (1 min) before ${loadBefore.toFixed(2)}, ` +
      `after ${loadAfter.toFixed(2)}: figures are only comparable on an otherwise idle machine`,
  );
  const v = trl.versions;
  console.log(
    `versions: node ${process.versions.node}; python ${v.python}, trl ${v.trl}, transformers ${v.transformers}, ` +
      `datasets ${v.datasets}, tokenizers ${v.tokenizers}, torch ${v.torch}`,
  );
  console.log(
    'tokenize(+read): alignkit preprocessPreferences (read JSONL + load tokenizer + tokenize + write Arrow) vs ' +
      'TRL load_dataset + from_pretrained + _prepare_dataset; batch: rows left after the max_length drop',
  );

  const table = {};
  for (const [variant, t] of Object.entries(trl.variants)) {
    const a = ak[variant];
    const trlTok = t.loadSeconds + t.tokenizerLoadSeconds + t.tokenizeSeconds;
    const line = (tok, batch) => ({
      tok: t.inputRows / tok,
      batch: t.rows / batch,
      total: t.inputRows / (tok + batch),
    });
    const A = line(a.tokenizeSeconds, a.batchSeconds);
    const T = line(trlTok, t.batchSeconds);
    table[`${variant} alignkit`] = {
      'tokenize(+read) rows/s': f(A.tok),
      'batch rows/s': f(A.batch),
      'total rows/s': f(A.total),
      'tok s': f(a.tokenizeSeconds, 2),
      'tok CPU s': f(a.tokenizeCpu, 2),
      'batch s': f(a.batchSeconds, 3),
      'batch CPU s': f(a.batchCpu, 3),
    };
    table[`${variant} TRL`] = {
      'tokenize(+read) rows/s': f(T.tok),
      'batch rows/s': f(T.batch),
      'total rows/s': f(T.total),
      'tok s': f(trlTok, 2),
      'tok CPU s': f(t.tokenizeCpuSeconds, 2),
      'batch s': f(t.batchSeconds, 3),
      'batch CPU s': f(t.batchCpuSeconds, 3),
    };
    table[`${variant} ratio ak/TRL`] = {
      'tokenize(+read) rows/s': f(A.tok / T.tok, 2),
      'batch rows/s': f(A.batch / T.batch, 2),
      'total rows/s': f(A.total / T.total, 2),
      'tok s': '',
      'tok CPU s': f(t.tokenizeCpuSeconds / a.tokenizeCpu, 2),
      'batch s': '',
      'batch CPU s': f(t.batchCpuSeconds / a.batchCpu, 2),
    };
  }
  console.table(table);
  for (const [variant, t] of Object.entries(trl.variants)) {
    const a = ak[variant];
    console.log(
      `${variant}: TRL load ${f(t.loadSeconds, 2)}s + tokenizer ${f(t.tokenizerLoadSeconds, 2)}s + _prepare_dataset ` +
        `${f(t.tokenizeSeconds, 2)}s (${f(t.inputRows / t.tokenizeSeconds)} rows/s without the load); alignkit read+parse JSONL ` +
        `alone ${f(a.readSeconds, 2)}s (${a.read} rows). Rows kept ${a.rows} (TRL ${t.rows}), dropped ${a.dropped} (TRL ${t.dropped}); ` +
        `batches ${a.batches} (TRL ${t.batches}), padded tokens ${a.padded} (TRL ${t.paddedTokens}); prefix mismatches ${a.prefixMismatches}`,
    );
  }
  console.log(
    '(ratio > 1: alignkit faster. "CPU s" counts all threads: alignkit tokenizes on the tokenizers thread pool, ' +
      'TRL one text at a time; the CPU ratio is TRL CPU s / alignkit CPU s)',
  );

  for (const [variant, a] of Object.entries(ak)) {
    if (a.mismatch) {
      console.error(
        `\n!!! TOKEN MISMATCH (${variant}): ${a.mismatch}; alignkit does not match TRL, the comparison is not like for like !!!`,
      );
      failed = true;
    } else if (a.rows !== trl.variants[variant].rows) {
      console.error(
        `\n!!! ROW COUNT MISMATCH (${variant}): alignkit kept ${a.rows}, TRL ${trl.variants[variant].rows} !!!`,
      );
      failed = true;
    }
  }
  if (!failed)
    console.log(
      `equality check: first ${reference.standard.rows.length} rows and one ${batchSize}-pair batch per variant identical to TRL`,
    );
} finally {
  if (opts.keep) console.error(`bench: kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
