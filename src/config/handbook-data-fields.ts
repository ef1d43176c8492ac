// The alignment-handbook's data keys before its 2025 rewrite (DataArguments and ModelArguments of
// src/alignment/configs.py, e.g. at commit 2ad9d3641e43a367b494bc0b9041c06371ffc216, branch orpo-expts), which its
// recipes of that time (recipes/llama3-8b/orpo, recipes/mistral-7b/orpo) write. `dataset_mixer` is resolved with the
// old get_datasets / mix_datasets and the old run_orpo.py's chat-template step (src/data/sources/handbook-mixer.ts);
// the others are read there, noted or refused here. Only trainer orpo reads them: the old handbook's ORPO script is
// the one whose rows alignkit renders; its DPO/SFT scripts mapped rows differently.
import { anyValue, bool, int, noEffect, obj, str, type Schema } from './schema.js';

export const handbookDataFields = {
  /** {dataset id: fraction of its train splits}; the test splits are kept whole. */
  dataset_mixer: obj(null),
  /** Split names loaded from every dataset: "train" in the name → train rows, else "test" in the name → test rows. */
  dataset_splits: anyValue(['train', 'test']),
  /** One config name per dataset_mixer entry (null: each dataset's default config). */
  dataset_configs: anyValue(null),
  preprocessing_num_workers: noEffect(
    int(null, 1),
    "the old handbook's SFT/DPO scripts passed it to Dataset.map as num_proc; alignkit renders and tokenizes in one process (its tokenizer batches use a thread pool)",
  ),
  /** Whether an empty system message starts a prompt without one, when the chat template mentions 'system' or '<|im_start|>'. */
  auto_insert_empty_system_msg: bool(true),
  truncation_side: noEffect(
    str(null),
    "the old run_orpo.py sets it to 'left' whatever the recipe says, and ORPOTrainer cuts prompts and completions itself (max_length, max_prompt_length), never through the tokenizer's truncation",
  ),
  text_column: noEffect(str('text'), "the old handbook read it for continued pretraining only, not for ORPO's rows"),
  use_flash_attention_2: noEffect(
    bool(false),
    'transformers 4.x spelling of attn_implementation: flash_attention_2 (removed in 5); alignkit has one attention implementation, its own fused kernels',
  ),
} satisfies Schema;
