// How the model is loaded and what of it trains: TRL 1.13's ModelConfig (dtype, model_revision, attention, LoRA,
// quantization), the trainers' model_init_kwargs / trust_remote_code, and the TrainingArguments keys about the
// model's kernels and activations. Each is implemented, noted as without effect, or refused (schema.ts).
// model_init_kwargs and gradient_checkpointing_kwargs are mappings whose keys src/train/model-init.ts checks.
import {
  anyValue,
  bool,
  int,
  listOf,
  noEffect,
  num,
  obj,
  oneOf,
  orNull,
  refused,
  str,
  type Field,
  type Schema,
} from './schema.js';
import { SUPPORTED_MODEL_TYPES } from './model-types.js';

export const LORA_TARGET_MODULES = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
  'qkv_proj', // Phi-3's fused q/k/v
  'gate_up_proj', // Phi-3's fused gate/up
  'all-linear',
] as const;
type LoraTarget = (typeof LORA_TARGET_MODULES)[number];
/** ModelConfig's dtype choices (transformers' from_pretrained: `auto` is config.json's dtype). */
export const MODEL_DTYPES = ['auto', 'bfloat16', 'float16', 'float32'] as const;

const QUANTIZATION =
  'quantized (bitsandbytes) training is not implemented in alignkit; train LoRA adapters on full-precision weights (use_peft: true) instead';
const BNB_ONLY = 'it is read only with load_in_4bit, and quantized training is not implemented in alignkit';

/** TRL's ModelConfig LoRA fields (its peft_config); null targets are PEFT's default for the model (q_proj, v_proj). */
export const peftFields = {
  use_peft: bool(false),
  lora_r: int(16, 1),
  lora_alpha: num(32, { min: 0 }),
  lora_dropout: num(0.05, { min: 0, max: 0.999 }),
  lora_target_modules: { ...listOf(LORA_TARGET_MODULES, []), default: null, nullable: true } as Field<
    LoraTarget[] | null,
    LoraTarget | LoraTarget[] | null
  >,
  use_rslora: bool(false),
  lora_target_parameters: refused(
    anyValue(null),
    "LoRA on parameters named one by one (PEFT's target_parameters) is not implemented; lora_target_modules: all-linear on a Mixture-of-Experts model adapts its router and experts (gate.weight, gate_up_proj, down_proj) as PEFT's all-linear does",
  ),
  lora_modules_to_save: refused(
    anyValue(null),
    'training whole modules beside the LoRA adapters (PEFT modules_to_save) is not implemented; train the full model (use_peft: false) instead',
  ),
  lora_task_type: refused(
    str('CAUSAL_LM'),
    "this trainer trains a causal language model (lora_task_type CAUSAL_LM): SEQ_CLS is not implemented here; trainer: reward trains a sequence-classification model's LoRA with it",
  ),
  use_dora: refused(bool(false), 'DoRA (weight-decomposed LoRA) is not implemented; use plain LoRA (use_dora: false)'),
} satisfies Schema;

export const modelFields = {
  /** The revision of a hub model id (branch, tag or commit) that model_name_or_path resolves at. */
  model_revision: str('main'),
  /** The dtype the weights are loaded and trained in (ModelConfig's; TRL passes it as model_init_kwargs.dtype). null: `auto`. */
  dtype: orNull(oneOf(MODEL_DTYPES, 'float32')),
  /** ModelConfig's name for `dtype` before TRL renamed it (alignment-handbook recipes); null: float32, as it meant then. */
  torch_dtype: oneOf(MODEL_DTYPES, null),
  /** from_pretrained's keyword arguments: dtype / torch_dtype, revision, trust_remote_code are read (model-init.ts). */
  model_init_kwargs: obj(null),
  trust_remote_code: noEffect(
    bool(false),
    `no remote code ever runs in alignkit: architectures are built natively from config.json (model_type ${SUPPORTED_MODEL_TYPES.join(', ')}), and any other model_type is refused when the model loads`,
  ),
  attn_implementation: noEffect(
    str(null),
    "alignkit runs its own attention (scaled dot-product attention from libtorch, with the model's masks); there is no implementation to choose",
  ),
  load_in_8bit: refused(bool(false), QUANTIZATION),
  load_in_4bit: refused(bool(false), QUANTIZATION),
  bnb_4bit_quant_type: noEffect(oneOf(['fp4', 'nf4'], 'nf4'), BNB_ONLY),
  use_bnb_nested_quant: noEffect(bool(false), BNB_ONLY),
  bnb_4bit_quant_storage: noEffect(str(null), BNB_ONLY),
  /** gradient_checkpointing_enable()'s arguments: every_n_layers, offload, and torch.utils.checkpoint's (model-init.ts). */
  gradient_checkpointing_kwargs: obj(null),
  /**
   * torch._functorch.config's activation_memory_budget at decoder-layer granularity: with gradient_checkpointing, the
   * fraction of the layers' activation memory kept (round((1 − budget)·L) layers recomputed, spread evenly; 0: every
   * layer, 1: none). null: gradient_checkpointing decides (src/train/checkpointed-layers.ts).
   */
  activation_memory_budget: num(null, { min: 0, max: 1 }),
  activation_offloading: refused(
    bool(false),
    'activation offloading is not implemented (on CPU the activations live in host memory already); gradient_checkpointing: true saves activation memory',
  ),
  use_liger_kernel: noEffect(
    bool(false),
    "alignkit's fused lm_head + log-softmax kernel (what Liger fuses) is always on, and its other kernels are its own",
  ),
  liger_kernel_config: noEffect(
    obj(null),
    "alignkit's fused lm_head + log-softmax kernel (what Liger fuses) is always on, and its other kernels are its own",
  ),
  ...peftFields,
} satisfies Schema;
