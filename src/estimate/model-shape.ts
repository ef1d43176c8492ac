// The shape of the model a config trains, from its config.json alone (no weights are read): what the memory plan
// (memory-plan.ts) multiplies by. The keys and defaults are those native/models/config.cpp reads; the parameter
// list is its expectedParameters. An adapter folder (adapter_config.json) is measured on its base model.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AlignkitError } from '../errors.js';
import { readModelJson } from '../io/model-file.js';
import { adapterBase } from '../train/peft.js';

export interface ModelShape {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections with biases (Qwen2; attention_bias): the fused norm + projections path is not taken then. */
  qkvBias: boolean;
  /** config.json's dtype (torch_dtype), what `dtype: auto` loads; null when it names none. */
  dtype: string | null;
}

/**
 * What a model_type's decoder layer holds beside Llama's, and its config class's defaults for keys config.json may
 * omit: native/models/config.cpp's family table, in the terms the estimate needs.
 */
interface FamilyShape {
  /** RMSNorm weights (hidden) per layer: 2 (Llama, OLMo 2's post-norms), 4 (Gemma's sandwich). */
  norms: number;
  /** q_norm/k_norm: per head (Qwen3, Gemma 3: headDim each) or over the whole projection (OLMo 2). */
  qkNorm: 'none' | 'per-head' | 'full';
  /** Phi-3's fused qkv_proj and gate_up_proj. */
  fused: boolean;
  tieDefault: boolean;
  headDimDefault: number | null;
}

const LLAMA_SHAPE: FamilyShape = { norms: 2, qkNorm: 'none', fused: false, tieDefault: false, headDimDefault: null };
const FAMILY_SHAPES: Readonly<Record<string, FamilyShape>> = {
  llama: LLAMA_SHAPE,
  mistral: LLAMA_SHAPE,
  qwen2: LLAMA_SHAPE,
  qwen3: { ...LLAMA_SHAPE, qkNorm: 'per-head' },
  granite: LLAMA_SHAPE,
  olmo2: { ...LLAMA_SHAPE, qkNorm: 'full' },
  smollm3: { ...LLAMA_SHAPE, tieDefault: true },
  gemma2: { ...LLAMA_SHAPE, norms: 4, tieDefault: true, headDimDefault: 256 },
  gemma3_text: { norms: 4, qkNorm: 'per-head', fused: false, tieDefault: true, headDimDefault: 256 },
  phi3: { ...LLAMA_SHAPE, fused: true },
};

export function familyShape(modelType: string): FamilyShape {
  return FAMILY_SHAPES[modelType] ?? LLAMA_SHAPE;
}

/** The parameter count of one decoder layer's linear weights (what LoRA targets and autocast casts). */
export function layerLinearParams(s: ModelShape): number {
  const q = s.numHeads * s.headDim,
    kv = s.numKvHeads * s.headDim;
  return s.hiddenSize * (2 * q + 2 * kv) + 3 * s.hiddenSize * s.intermediateSize;
}

/** All parameters, as native expectedParameters lists them (embeddings, layers with biases and norms, lm_head). */
export function parameterCount(s: ModelShape): number {
  const q = s.numHeads * s.headDim,
    kv = s.numKvHeads * s.headDim;
  const family = familyShape(s.modelType);
  const qkNorm = family.qkNorm === 'per-head' ? 2 * s.headDim : family.qkNorm === 'full' ? q + kv : 0;
  const perLayer =
    layerLinearParams(s) +
    family.norms * s.hiddenSize + // input_layernorm, post_attention_layernorm (+ Gemma's feed-forward norms)
    (s.qkvBias ? q + 2 * kv : 0) +
    qkNorm;
  const embeddings = s.vocabSize * s.hiddenSize * (s.tieWordEmbeddings ? 1 : 2);
  return embeddings + s.numLayers * perLayer + s.hiddenSize;
}

function positiveInt(json: Record<string, unknown>, key: string, path: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new AlignkitError('ERR_INVALID_MODEL', `${path}: '${key}' must be a positive integer, got ${String(value)}`);
  return value;
}

/** The shape of the model in `dir` (a model folder, or an adapter folder: its base). */
export async function readModelShape(dir: string): Promise<ModelShape> {
  const base = adapterBase(dir);
  const folder = base ?? dir;
  const path = join(folder, 'config.json');
  if (!existsSync(path))
    throw new AlignkitError('ERR_INVALID_MODEL', `${folder}: no config.json (is it a model folder?)`);
  const json = (await readModelJson(path))!;
  const modelType = typeof json.model_type === 'string' ? json.model_type : 'llama';
  const family = familyShape(modelType);
  const hiddenSize = positiveInt(json, 'hidden_size', path);
  const numHeads = positiveInt(json, 'num_attention_heads', path);
  const dtype = [json.dtype, json.torch_dtype].find((d): d is string => typeof d === 'string') ?? null;
  return {
    modelType,
    vocabSize: positiveInt(json, 'vocab_size', path),
    hiddenSize,
    intermediateSize: positiveInt(json, 'intermediate_size', path),
    numLayers: positiveInt(json, 'num_hidden_layers', path),
    numHeads,
    numKvHeads: positiveInt(json, 'num_key_value_heads', path, numHeads),
    headDim: positiveInt(json, 'head_dim', path, family.headDimDefault ?? Math.floor(hiddenSize / numHeads)),
    tieWordEmbeddings: typeof json.tie_word_embeddings === 'boolean' ? json.tie_word_embeddings : family.tieDefault,
    qkvBias: modelType === 'qwen2' || (!family.fused && json.attention_bias === true),
    dtype,
  };
}
