// `alignkit estimate config.yaml [--key value ...]` (or `alignkit estimate dpo|sft|kto recipe.yaml` for a TRL recipe,
// which has no trainer key): the per-device memory plan of the run, before any training and without reading weights
// (src/estimate), as a table or --json. The config is read as `alignkit dpo|sft|kto` reads it (load-recipe.ts).
import type { Command } from 'commander';
import { configMapping, readConfigFile } from '../config/load-config.js';
import { loadRecipe, TRL_TRAINERS, type TrlTrainer } from '../config/load-recipe.js';
import { configError } from '../errors.js';
import { estimateConfig } from '../estimate/estimate-config.js';
import { estimateJson, formatEstimate } from '../estimate/format-estimate.js';

const isTrlTrainer = (name: string | undefined): name is TrlTrainer =>
  (TRL_TRAINERS as readonly string[]).includes(name ?? '');

/** The trainer and the recipe arguments: `dpo recipe.yaml ...`, or `config.yaml ...` with a trainer key. */
async function trainerOf(args: string[]): Promise<{ trainer: TrlTrainer; rest: string[] }> {
  if (isTrlTrainer(args[0])) return { trainer: args[0], rest: args.slice(1) };
  const path = args[0];
  if (path === undefined || path.startsWith('-'))
    throw configError(
      'alignkit estimate: give the config file (alignkit estimate config.yaml, or alignkit estimate dpo recipe.yaml)',
    );
  const { trainer } = configMapping(await readConfigFile(path), path);
  if (trainer === undefined)
    throw configError(path, `no trainer: key (a TRL recipe?): run alignkit estimate ${TRL_TRAINERS.join('|')} ${path}`);
  if (!isTrlTrainer(String(trainer)))
    throw configError(
      path,
      `alignkit estimate covers trainer: ${TRL_TRAINERS.join(', ')}, not ${JSON.stringify(trainer)}`,
    );
  return { trainer: trainer as TrlTrainer, rest: args };
}

export function registerEstimate(program: Command): void {
  program
    .command('estimate')
    .description(
      'print the per-device memory plan of a training config (weights, gradients, optimizer, reference, activations ' +
        'with and without checkpointing) and whether it fits this machine, without loading the model',
    )
    .argument(
      '[args...]',
      'config.yaml (or dpo|sft|kto recipe.yaml), then --key value flags overriding its keys; --json',
    )
    .allowUnknownOption()
    .action(async (args: string[]) => {
      const json = args.includes('--json');
      const { trainer, rest } = await trainerOf(args.filter((a) => a !== '--json'));
      const { config } = await loadRecipe(trainer, rest);
      const estimate = await estimateConfig(config, { log: (m) => console.error(m) });
      console.log(json ? JSON.stringify(estimateJson(estimate), null, 2) : formatEstimate(estimate));
    });
}
