// `alignkit preprocess config.yaml`: tokenizes the train (and eval) dataset exactly as training will, writes
// output_dir/train.arrow (and eval.arrow), and prints row counts and token-length statistics.
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import type { LengthStats } from '../data/length-stats.js';
import { preprocessRanked } from '../data/ranked/preprocess-ranked.js';
import { preprocessPreferences } from '../data/preprocess-preference.js';
import { preprocessSft } from '../data/sft/preprocess-sft.js';
import { preprocessUnpaired } from '../data/unpaired/preprocess-unpaired.js';
import { AlignkitError } from '../errors.js';

const fmt = (s: LengthStats) => `min ${s.min}  mean ${s.mean.toFixed(1)}  p95 ${s.p95}  max ${s.max}`;

interface Summary {
  path: string;
  rows: number;
  dropped: number;
  skipped: number;
  cached: boolean;
  lengths: Record<string, LengthStats>;
}

function report(split: string, s: Summary, dropReason: string): void {
  console.log(
    `${split}: ${s.rows} rows → ${s.path}${s.cached ? ' (cached: data, tokenizer and settings unchanged)' : ''}`,
  );
  if (s.dropped || s.skipped) console.log(`  dropped ${s.dropped} (${dropReason}), skipped ${s.skipped} invalid`);
  for (const [name, stats] of Object.entries(s.lengths)) console.log(`  ${`${name} tokens`.padEnd(16)} ${fmt(stats)}`);
}

export function registerPreprocess(program: Command): void {
  program
    .command('preprocess')
    .description('tokenize the datasets of a training config as training will, and print their statistics')
    .argument('<config>', 'training config (YAML or JSON)')
    .action(async (path: string) => {
      const config = await loadConfig(path);
      if (config.trainer === 'online_dpo')
        throw new AlignkitError(
          'ERR_INVALID_CONFIG',
          `${path}: trainer: online_dpo makes its pairs while training; there is nothing to preprocess`,
        );
      if (config.trainer !== 'dpo' && config.trainer !== 'kto' && config.trainer !== 'sft')
        throw new AlignkitError(
          'ERR_INVALID_CONFIG',
          `${path}: alignkit preprocess covers trainer: dpo, kto and sft; trainer: ${config.trainer} tokenizes its data when it trains`,
        );
      const log = (message: string) => console.error(message);
      const splits = config.eval_dataset ? (['train', 'eval'] as const) : (['train'] as const);
      for (const split of splits) {
        if (config.trainer === 'dpo' && config.ranked_pairing === 'listwise') {
          // Whole rankings, one row per prompt (src/data/ranked): no pairs to report lengths of.
          const s = await preprocessRanked(config, { split, log, refuseEmpty: true });
          console.log(`${split}: ${s.rows} prompts, ${s.answers} answers → ${s.path}`);
          if (s.dropped || s.skipped || s.tied)
            console.log(
              `  dropped ${s.dropped} (prompt fills max_length), ${s.tied} with every answer tied, skipped ${s.skipped} invalid`,
            );
        } else if (config.trainer === 'dpo') {
          report(
            split,
            await preprocessPreferences(config, { split, log, refuseEmpty: true }),
            'prompt fills max_length',
          );
        } else if (config.trainer === 'kto') {
          const summary = await preprocessUnpaired(config, { split, log, refuseEmpty: true });
          report(split, summary, 'prompt fills max_length');
          console.log(`  ${'labels'.padEnd(16)} ${summary.desirable} desirable, ${summary.undesirable} undesirable`);
        } else if (config.trainer === 'sft') {
          report(
            split,
            await preprocessSft(config, { split, log, refuseEmpty: true }),
            'no trained token left within max_length',
          );
        }
      }
    });
}
