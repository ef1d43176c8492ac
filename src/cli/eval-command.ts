// `alignkit eval config.yaml`: evaluates a saved model as the config says and prints the figures it wrote to
// output_dir/eval_results.json.
import type { Command } from 'commander';
import { evaluate } from '../eval/evaluate.js';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description(
      'evaluate a saved model: preference accuracy and rewards vs a reference, perplexity, generations and win rate',
    )
    .argument('<config>', 'eval config (YAML or JSON)')
    .action(async (path: string) => {
      const { metrics, resultsPath, generationsPath } = await evaluate(path);
      const width = Math.max(...Object.keys(metrics).map((k) => k.length));
      for (const [key, value] of Object.entries(metrics))
        console.log(`${key.padEnd(width)}  ${Number.isInteger(value) ? value : value.toPrecision(5)}`);
      console.log(`results: ${resultsPath}${generationsPath ? `\ngenerations: ${generationsPath}` : ''}`);
    });
}
