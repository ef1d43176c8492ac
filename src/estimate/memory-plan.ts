// The per-device memory of a training run, from the model's shape and the config's settings alone: weights,
// gradients, AdamW's state, the reference model, the autocast weight cache, the activations autograd keeps (counted
// from what our Llama-family forward saves: native/models/causal_lm.cpp, rms_norm.cpp, swiglu_mlp.cpp,
// layer_checkpoint.cpp), and the runtime. Pure arithmetic: estimate-config.ts reads the config and the model.
import { layerLinearParams, parameterCount, type ModelShape } from './model-shape.js';

export type Trainer = 'dpo' | 'sft' | 'kto' | 'online_dpo';

export interface PlanSettings {
  trainer: Trainer;
  /** The dtype the weights are loaded (and trained) in. */
  weightDtype: 'float32' | 'bfloat16';
  /** bf16 autocast on the forwards. */
  bf16: boolean;
  gradientCheckpointing: boolean;
  /** Rows per device per micro-batch (DPO: pairs). */
  batchSize: number;
  /** Tokens per sequence (the longest a batch can be). */
  maxLength: number;
  /** LoRA adapters (use_peft): rank and the modules they sit on (q_proj..down_proj). */
  lora: { r: number; targets: string[] } | null;
  /** DPO/KTO: a second copy of the weights ('copy'), the policy with its adapters off ('base'), or none (SFT). */
  reference: 'copy' | 'base' | 'none';
  /** The reference's log-probs computed once before training: a reference copy is freed before step 1. */
  precomputeRefLogProbs: boolean;
  zeroStage: number;
  worldSize: number;
  device: 'cpu' | 'cuda';
}

/** One tensor a decoder layer keeps for its backward, in bytes per token. */
export interface SavedTensor {
  name: string;
  bytesPerToken: number;
}

export interface MemoryPlan {
  /** Parameters in all, and those that train. */
  parameters: number;
  trainableParameters: number;
  /** Sequences and tokens of one micro-batch's forward. */
  sequences: number;
  tokens: number;
  weights: number;
  gradients: number;
  optimizer: number;
  /** The reference model's weights while training runs (0 with 'base' or once precomputed). */
  reference: number;
  /** A reference copy held only while its log-probs are precomputed, before step 1. */
  referenceFreedAfterPrecompute: number;
  /**
   * Loading, before any step: the models loaded so far and the safetensors file being read, whose mapped pages
   * count as resident until the copy is done. It decides the peak when little trains (LoRA).
   */
  loading: number;
  /** bf16 autocast's cache of the trained float32 weights cast to bfloat16, alive through each forward. */
  autocastCache: number;
  /** What one decoder layer saves, per token. */
  layerSaved: SavedTensor[];
  activations: { withCheckpointing: number; withoutCheckpointing: number };
  /** The backward's transient working set: gradients in flight, the SwiGLU buffer, logits tiles, lm_head's gradient. */
  backwardWorkspace: number;
  /** The (tokens, vocab) logits and log-softmax a plain lm_head + log_softmax would keep; the fused kernel never makes them. */
  logitsAvoided: number;
  /** libtorch, Node and the tokenizer/data (CPU), or the CUDA context (GPU). */
  runtime: number;
  /**
   * The peak: runtime + weights + optimizer + reference + the larger of (activations with the backward's working set
   * and lm_head's gradient, or the autocast cache) and (all gradients, a tied embedding's twice, at the end of
   * backward and the optimizer step); or, when larger, the reference precompute's or the loading's.
   */
  total: number;
}

const MiB = 2 ** 20;
/** Node + libtorch (scripts/estimate/peak-run.mjs --baseline) + tokenizer and data, fitted on the small shape (docs/performance.md). */
const CPU_RUNTIME = 220 * MiB;
/** A CUDA context and the kernels' images, outside the caching allocator. */
const CUDA_RUNTIME = 600 * MiB;
/** The fused log-prob kernel's logits tile (ops/fused_linear_logprobs.h): 1024 x 4096 float32 on CPU. */
const CPU_TILE = 1024 * 4096 * 4;
const CUDA_TILE = 2048 * 32768 * 4;

const LORA_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** The modules lora_target_modules selects ('all-linear': every projection). */
export function loraModules(targets: string[]): string[] {
  return targets.includes('all-linear') ? LORA_MODULES : LORA_MODULES.filter((m) => targets.includes(m));
}

/** Each module's (in, out) features. */
function moduleFeatures(s: ModelShape): Record<string, [number, number]> {
  const q = s.numHeads * s.headDim,
    kv = s.numKvHeads * s.headDim,
    h = s.hiddenSize,
    i = s.intermediateSize;
  return {
    q_proj: [h, q],
    k_proj: [h, kv],
    v_proj: [h, kv],
    o_proj: [q, h],
    gate_proj: [h, i],
    up_proj: [h, i],
    down_proj: [i, h],
  };
}

export function loraParameters(s: ModelShape, lora: { r: number; targets: string[] }): number {
  const features = moduleFeatures(s);
  return s.numLayers * loraModules(lora.targets).reduce((n, m) => n + lora.r * (features[m]![0] + features[m]![1]), 0);
}

/**
 * What one decoder layer keeps for backward, per token, as autograd saves it in our forward:
 * - float32 without autocast, no biases or adapters: the fused norm + projections (rms_norm.cpp) keep the layer
 *   input only, SDPA its q, k, v and output, the fused SwiGLU (swiglu_mlp.cpp) gate and up;
 * - otherwise the plain ops: the norm keeps its input and output, each autocast linear its own bfloat16 copy of
 *   its input, the MLP gate, silu(gate), up and their product.
 * RoPE keeps nothing per token (cos/sin are shared); with padding (a masked batch, as preference data is) the
 * keys and values are expanded to every head (repeat_kv) before SDPA, which keeps the copies.
 */
export function layerSavedTensors(s: ModelShape, settings: PlanSettings): SavedTensor[] {
  const h = s.hiddenSize,
    q = s.numHeads * s.headDim,
    i = s.intermediateSize;
  const kvExpanded = q; // masked batches: repeat_kv before SDPA
  const float32 = settings.weightDtype === 'float32';
  const a = float32 && !settings.bf16 ? 4 : 2; // linear outputs and SDPA's tensors
  const targets = settings.lora ? loraModules(settings.lora.targets) : [];
  const attentionAdapters = targets.some((m) => ['q_proj', 'k_proj', 'v_proj'].includes(m));
  const mlpAdapters = targets.some((m) => ['gate_proj', 'up_proj', 'down_proj'].includes(m));
  const fusedPath = float32 && !settings.bf16;
  const out: SavedTensor[] = [];
  const norm = (where: string, consumers: number) => {
    if (!float32) {
      // x.to(float32) (pow and mul keep it), the bfloat16 normalised row (weight * normed keeps it) and the output.
      out.push({ name: `${where} norm input (float32 copy)`, bytesPerToken: 4 * h });
      out.push({ name: `${where} norm normalised + output (bf16)`, bytesPerToken: 4 * h });
    } else if (settings.bf16) {
      out.push({ name: `${where} norm input + normalised (fp32)`, bytesPerToken: 8 * h });
      out.push({
        name: `${where} autocast bf16 copies of the norm output (x${consumers})`,
        bytesPerToken: 2 * h * consumers,
      });
    } else {
      out.push({ name: `${where} norm input + output (fp32)`, bytesPerToken: 8 * h });
    }
  };
  if (fusedPath && !s.qkvBias && !attentionAdapters) {
    out.push({ name: 'attention input (fused norm + q/k/v)', bytesPerToken: 4 * h });
  } else {
    norm('attention', 3);
  }
  out.push({ name: 'SDPA q, k, v (k, v expanded to all heads), output', bytesPerToken: a * (2 * q + 2 * kvExpanded) });
  if (fusedPath && !mlpAdapters) {
    out.push({ name: 'MLP input (fused norm + gate/up)', bytesPerToken: 4 * h });
    out.push({ name: 'MLP gate, up (fused SwiGLU)', bytesPerToken: 8 * i });
  } else {
    norm('MLP', 2);
    out.push({ name: 'MLP gate, silu(gate), up, product', bytesPerToken: 4 * a * i });
  }
  if (targets.length > 0 && settings.lora) {
    // Each adapter keeps its (dropped-out) input and its rank-r middle.
    const features = moduleFeatures(s);
    const inputs = targets.reduce((n, m) => n + features[m]![0], 0);
    out.push({
      name: `LoRA inputs and rank-${settings.lora.r} middles`,
      bytesPerToken: a * (inputs + targets.length * settings.lora.r),
    });
  }
  return out;
}

/** Bytes per token the final norm keeps, with the hidden states the fused log-prob kernel keeps. */
function headBytesPerToken(s: ModelShape, settings: PlanSettings): number {
  return (settings.weightDtype === 'float32' && settings.bf16 ? 12 : 8) * s.hiddenSize;
}

export function memoryPlan(s: ModelShape, settings: PlanSettings): MemoryPlan {
  const w = settings.weightDtype === 'float32' ? 4 : 2;
  const parameters = parameterCount(s);
  const trainableParameters = settings.lora ? loraParameters(s, settings.lora) : parameters;
  // DPO's chosen and rejected rows run as one batch; KTO's KL rows run without autograd.
  const sequences =
    settings.trainer === 'sft' || settings.trainer === 'kto' ? settings.batchSize : 2 * settings.batchSize;
  const tokens = sequences * settings.maxLength;
  const weights = (parameters + (settings.lora ? trainableParameters : 0)) * w;
  const gradients = trainableParameters * w;
  const optimizer = (2 * trainableParameters * w) / (settings.zeroStage >= 1 ? settings.worldSize : 1);
  const referenceCopy = settings.reference === 'copy' ? parameters * w : 0;
  const reference = settings.precomputeRefLogProbs ? 0 : referenceCopy;
  const autocastCache = settings.bf16 && w === 4 && !settings.lora ? 2 * s.numLayers * layerLinearParams(s) : 0;

  const layerSaved = layerSavedTensors(s, settings);
  const layerBytes = layerSaved.reduce((n, t) => n + t.bytesPerToken, 0);
  const head = headBytesPerToken(s, settings) * tokens;
  const withoutCheckpointing = tokens * layerBytes * s.numLayers + head;
  // Checkpointing keeps each layer's input (the residual stream, in the weights' dtype) and, during backward, one
  // layer's recomputed activations at a time.
  const withCheckpointing = tokens * (w * s.hiddenSize * s.numLayers + layerBytes) + head;
  const activations = settings.gradientCheckpointing ? withCheckpointing : withoutCheckpointing;
  const a = w === 4 && !settings.bf16 ? 4 : 2;
  const tile = settings.device === 'cuda' ? CUDA_TILE : CPU_TILE;
  // Gradients are freed after each optimizer step (zero_grad sets them to None) and made during backward as the
  // activations are freed: at the backward's start only lm_head's exists (the fused kernel makes it first).
  const lmHeadGradient = settings.lora ? 0 : s.vocabSize * s.hiddenSize * w;
  const backwardWorkspace = tokens * (2 * a * s.intermediateSize + 4 * 4 * s.hiddenSize) + 2 * tile + lmHeadGradient;
  // A plain lm_head + log_softmax keeps the log-softmax (float32) and makes the logits (bf16 under autocast) first.
  const logitsAvoided = tokens * s.vocabSize * (4 + (settings.bf16 || w === 2 ? 2 : 4));
  const runtime = settings.device === 'cuda' ? CUDA_RUNTIME : CPU_RUNTIME;

  // All gradients exist at the optimizer step, when the activations are gone. A tied embedding's second gradient
  // (the embedding backward's dense one) exists beside lm_head's until autograd adds it in.
  const tiedGradient = s.tieWordEmbeddings && !settings.lora ? s.vocabSize * s.hiddenSize * w : 0;
  const backwardPeak = activations + Math.max(autocastCache, backwardWorkspace);
  const step = runtime + weights + optimizer + reference + Math.max(backwardPeak, gradients + tiedGradient);
  // Before step 1: both models and the reference's no-grad forward (one layer's working set, a logits tile).
  const precompute = settings.precomputeRefLogProbs
    ? weights + referenceCopy + tokens * layerBytes + tile + runtime
    : 0;
  // The last file read: the reference's (or the policy's), mapped in the checkpoint's dtype beside what is loaded.
  const fileBytes = parameters * (s.dtype === 'bfloat16' || s.dtype === 'float16' ? 2 : 4);
  const loading = settings.device === 'cpu' ? runtime + parameters * w + referenceCopy + fileBytes : 0;
  return {
    parameters,
    trainableParameters,
    sequences,
    tokens,
    weights,
    gradients,
    optimizer,
    reference,
    referenceFreedAfterPrecompute: settings.precomputeRefLogProbs ? referenceCopy : 0,
    loading,
    autocastCache,
    layerSaved,
    activations: { withCheckpointing, withoutCheckpointing },
    backwardWorkspace,
    logitsAvoided,
    runtime,
    total: Math.max(step, precompute, loading),
  };
}
