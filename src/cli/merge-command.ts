// `alignkit merge <adapter> <output>`: a LoRA adapter folder folded into its base model, written as a full model.
import type { Command } from 'commander';
import { mergeAdapter } from '../merge.js';
import type { Dtype } from '../types/model.js';

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('merge a PEFT LoRA adapter folder into its base model and write a full Hugging Face model')
    .argument('<adapter>', 'adapter folder (adapter_config.json + adapter_model.safetensors)')
    .argument('<output>', 'folder to write the merged model to')
    .option('--base <dir>', "base model folder (default: the adapter's base_model_name_or_path)")
    .option('--dtype <dtype>', 'float32 | bfloat16 | float16 | auto', 'auto')
    .action(async (adapter: string, output: string, options: { base?: string; dtype: Dtype }) => {
      await mergeAdapter(adapter, output, { base: options.base, dtype: options.dtype });
      console.log(`merged ${adapter} into ${output}`);
    });
}
