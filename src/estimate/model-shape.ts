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
  /** Mixtral / Qwen3-MoE: the experts of each MoE layer (native/models/moe.h); null for a dense model. */
  moe: MoeShape | null;
}

export interface MoeShape {
  numExperts: number;
  /** num_experts_per_tok: the experts each token runs through. */
  topK: number;
  /** Each expert's intermediate size (Qwen3-MoE's moe_intermediate_size). */
  intermediateSize: number;
  /** How many decoder layers hold experts (Qwen3-MoE's mlp_only_layers and decoder_sparse_step leave some dense). */
  layers: number;
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
  mixtral: LLAMA_SHAPE,
  qwen3_moe: { ...LLAMA_SHAPE, qkNorm: 'per-head' },
  olmoe: { ...LLAMA_SHAPE, qkNorm: 'full' },
};

export function familyShape(modelType: string): FamilyShape {
  return FAMILY_SHAPES[modelType] ?? LLAMA_SHAPE;
}

/** The parameter count of one decoder layer's linear weights (what LoRA targets and autocast casts); MoE: the mean layer's, router and all experts included. */
export function layerLinearParams(s: ModelShape): number {
  const q = s.numHeads * s.headDim,
    kv = s.numKvHeads * s.headDim;
  const attention = s.hiddenSize * (2 * q + 2 * kv);
  const dense = 3 * s.hiddenSize * s.intermediateSize;
  if (!s.moe) return attention + dense;
  const m = s.moe;
  const experts = m.numExperts * (3 * s.hiddenSize * m.intermediateSize + s.hiddenSize);
  return attention + (m.layers * experts + (s.numLayers - m.layers) * dense) / s.numLayers;
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
    (s.qkvBias && s.modelType !== 'qwen2' ? s.hiddenSize : 0) + // o_proj's bias beside attention_bias' q/k/v ones
    qkNorm;
  const embeddings = s.vocabSize * s.hiddenSize * (s.tieWordEmbeddings ? 1 : 2);
  return embeddings + Math.round(s.numLayers * perLayer) + s.hiddenSize;
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
    // config.cpp's BiasRule: Phi-3 and Mixtral have no attention biases, Qwen2 always q/k/v ones.
    qkvBias: modelType === 'qwen2' || (!family.fused && modelType !== 'mixtral' && json.attention_bias === true),
    dtype,
    moe: moeShape(json, modelType, path),
  };
}

/** config.cpp's parseMoe: Mixtral's, Qwen3-MoE's and OLMoE's experts (num_experts and num_local_experts alias). */
function moeShape(json: Record<string, unknown>, modelType: string, path: string): MoeShape | null {
  const mixtral = modelType === 'mixtral';
  const olmoe = modelType === 'olmoe';
  if (!mixtral && !olmoe && modelType !== 'qwen3_moe') return null;
  const numLayers = positiveInt(json, 'num_hidden_layers', path);
  const numExperts =
    json.num_local_experts != null
      ? positiveInt(json, 'num_local_experts', path)
      : positiveInt(json, 'num_experts', path, mixtral ? 8 : olmoe ? 64 : 128);
  const qwen = !mixtral && !olmoe;
  const step = qwen ? positiveInt(json, 'decoder_sparse_step', path, 1) : 1;
  const dense = new Set(Array.isArray(json.mlp_only_layers) && qwen ? json.mlp_only_layers : []);
  let layers = 0;
  for (let i = 0; i < numLayers; i++) if (!dense.has(i) && (i + 1) % step === 0) layers++;
  return {
    numExperts,
    topK: positiveInt(json, 'num_experts_per_tok', path, mixtral ? 2 : 8),
    intermediateSize: qwen
      ? positiveInt(json, 'moe_intermediate_size', path, 768)
      : positiveInt(json, 'intermediate_size', path),
    layers,
  };
}
