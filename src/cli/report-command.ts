// `alignkit report output_dir`: report.html and plots/*.png from a training run's metrics.jsonl (and its
// eval_results.json), written into the output folder or --out.
import type { Command } from 'commander';
import { dirname, join } from 'node:path';
import { report } from '../report/report.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description(
      'write report.html and plots/*.png (loss, reward margins, accuracies, learning rate, ... vs step) for a training run',
    )
    .argument('<output_dir>', 'the output_dir of a training run (it holds metrics.jsonl)')
    .option('--out <dir>', 'folder for report.html and plots/ (default: output_dir)')
    .action(async (outputDir: string, options: { out?: string }) => {
      const result = await report(outputDir, { out: options.out });
      console.log(
        `report: ${result.html} (${result.plots.length} charts, PNGs in ${join(dirname(result.html), 'plots')})`,
      );
    });
}
