// `alignkit preprocess config.yaml`: tokenizes the train (and eval) dataset exactly as training will, writes
// output_dir/train.arrow, and prints row counts and token-length statistics.
import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import type { LengthStats } from '../data/length-stats.js';
import { preprocessPreferences, type PreprocessSummary } from '../data/preprocess-preference.js';
import { AlignkitError } from '../errors.js';

const fmt = (s: LengthStats) => `min ${s.min}  mean ${s.mean.toFixed(1)}  p95 ${s.p95}  max ${s.max}`;

function report(split: string, s: PreprocessSummary): void {
  console.log(`${split}: ${s.rows} rows → ${s.path}${s.cached ? ' (cached: data, tokenizer and settings unchanged)' : ''}`);
  if (s.dropped || s.skipped) console.log(`  dropped ${s.dropped} (prompt fills max_length), skipped ${s.skipped} invalid`);
  for (const [name, stats] of Object.entries(s.lengths)) console.log(`  ${`${name} tokens`.padEnd(16)} ${fmt(stats)}`);
}

export function registerPreprocess(program: Command): void {
  program
    .command('preprocess')
    .description('tokenize the datasets of a training config as training will, and print their statistics')
    .argument('<config>', 'training config (YAML or JSON)')
    .action(async (path: string) => {
      const config = await loadConfig(path);
      if (config.trainer !== 'dpo') {
        throw new AlignkitError('ERR_INVALID_CONFIG', `${path}: preprocess supports trainer dpo so far, got ${config.trainer}`);
      }
      const log = (message: string) => console.error(message);
      report('train', await preprocessPreferences(config, { split: 'train', log }));
      if (config.eval_dataset) report('eval', await preprocessPreferences(config, { split: 'eval', log }));
    });
}
