// `alignkit demo`: SFT → DPO → eval → report on the bundled tiny model and data (src/demo/demo.ts), printing
// each stage's progress and, at the end, what DPO changed on held-out data.
import type { Command } from 'commander';
import { relative } from 'node:path';
import { runDemo } from '../demo/demo.js';
import { duration, trainReporter } from './train-progress.js';

const percent = (v: number) => `${(100 * v).toFixed(0)}%`.padStart(6);
/** A path relative to the working directory when it lies inside it. */
const shown = (path: string) =>
  relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path) || '.';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'align the bundled tiny model on this machine: SFT, then DPO, then evaluation and a report (a few minutes on a CPU)',
    )
    .option('--out <dir>', 'where models, configs, metrics and the report go', 'alignkit-demo')
    .action(async (options: { out: string }) => {
      const started = performance.now();
      let reporter = trainReporter({ interactive: false });
      const stages = { sft: '1/4 SFT', dpo: '2/4 DPO', eval: '3/4 eval', report: '4/4 report' };
      const result = await runDemo({
        outputDir: options.out,
        onStage(stage, path) {
          reporter.stop();
          console.log(`\n[${stages[stage]}] ${shown(path)}`);
          reporter = trainReporter({ interactive: Boolean(process.stdout.isTTY && process.stderr.isTTY) });
        },
        onStep: (p) => reporter.onStep(p),
        onLog: (entry, p) => reporter.onLog(entry, p),
        log: (message) => reporter.note(message),
      });
      reporter.stop();
      const { preferenceAccuracy: acc, followsInstruction: follows } = result;
      // Before DPO the model is the SFT model: against itself every comparison is a tie.
      console.log(
        `
held-out data                                    before DPO   after DPO
  prefers the chosen answer (log-prob)           ${percent(acc.before)}       ${percent(acc.after)}
  answers in the case the prompt asks for        ${percent(follows.before)}       ${percent(follows.after)}
  win rate against the SFT model (rule judge)    ${percent(0.5)}       ${percent(result.winRate)}

report: ${shown(result.report.html)}
done in ${duration((performance.now() - started) / 1000)}: ${shown(result.outputDir)}/ holds the models (sft/, dpo/) with their ` +
          'metrics.jsonl, the configs (rerun any stage with alignkit train|eval <file>), eval_results.json and generations.jsonl',
      );
    });
}
