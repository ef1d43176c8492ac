// The model_type values alignkit builds natively: native/models/config.cpp's family table (supportedModelTypes()),
// for the notes and messages that name them.
export const SUPPORTED_MODEL_TYPES = [
  'llama',
  'mistral',
  'qwen2',
  'qwen3',
  'granite',
  'olmo2',
  'smollm3',
  'gemma2',
  'gemma3_text',
  'phi3',
  'mixtral',
  'qwen3_moe',
  'olmoe',
] as const;
