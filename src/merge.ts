// Merging a LoRA adapter into its base model, as PEFT's merge_and_unload() followed by save_pretrained() does.
import { AlignkitError } from './errors.js';
import { refuseLinksOutside } from './io/model-file.js';
import { writeModelFolder } from './io/model-folder-write.js';
import { ensureWritableFolder, refuseOutputOverInputs } from './io/output-folder.js';
import { loadModel } from './model.js';
import type { Device, Dtype, SaveOptions } from './types/model.js';
import { adapterBase } from './train/peft.js';

export interface MergeOptions extends SaveOptions {
  /** The base model folder. Default: the adapter's base_model_name_or_path (relative to the adapter folder). */
  base?: string;
  /** Dtype to load the base in and merge and save. Default `auto` (config.json's), as PEFT merges in the base's dtype. */
  dtype?: Dtype;
  device?: Device;
}

/**
 * Writes `outputDir` as a full Hugging Face model: the base model with W += scaling · B A for every adapted layer,
 * and the base's tokenizer files. `AutoModelForCausalLM.from_pretrained(outputDir)` loads it.
 */
export async function mergeAdapter(adapterDir: string, outputDir: string, options: MergeOptions = {}): Promise<void> {
  const base = options.base ?? adapterBase(adapterDir);
  if (!base)
    throw new AlignkitError(
      'ERR_NOT_FOUND',
      `${adapterDir}: no adapter_config.json (expected a PEFT LoRA adapter folder)`,
    );
  // Before any work: the merged model must not overwrite the base or the adapter it is made from.
  refuseOutputOverInputs({ key: 'output', path: outputDir }, [
    { key: 'the adapter', path: adapterDir },
    { key: 'the base model', path: base },
  ]);
  ensureWritableFolder('output', outputDir);
  refuseLinksOutside(base, 'the base model');
  const model = await loadModel(base, { dtype: options.dtype ?? 'auto', device: options.device });
  try {
    await model.loadAdapter(adapterDir);
    await model.mergeLora();
    await writeModelFolder(outputDir, (dir) => model.save(dir, { maxShardSize: options.maxShardSize }));
  } finally {
    await model.dispose();
  }
}
