// The per-device memory of a training run, from the model's shape and the config's settings alone: weights,
// gradients, AdamW's state, the reference model, the autocast weight cache, the activations autograd keeps (counted
// from what our Llama-family forward saves: native/models/causal_lm.cpp, rms_norm.cpp, swiglu_mlp.cpp,
// layer_checkpoint.cpp), and the runtime. Pure arithmetic: estimate-config.ts reads the config and the model.
import type { TrainConfig } from '../config/load-config.js';
import { familyShape, layerLinearParams, parameterCount, type ModelShape } from './model-shape.js';

export type Trainer = TrainConfig['trainer'];
/** Trainers whose rows are single sequences (no chosen/rejected pair). */
const UNPAIRED_TRAINERS: readonly Trainer[] = ['sft', 'kto', 'bco'];
export type WeightDtype = 'float32' | 'bfloat16';

export interface PlanSettings {
  trainer: Trainer;
  /** The dtype the weights are loaded (and trained) in. */
  weightDtype: WeightDtype;
  /** bf16 autocast on the forwards. */
  bf16: boolean;
  gradientCheckpointing: boolean;
  /** gradient_checkpointing_kwargs.every_n_layers: with checkpointing, layer i recomputes iff i % n == 0. */
  checkpointEveryNLayers: number;
  /** activation_memory_budget: with checkpointing, the fraction of the layers' activation memory kept (null: off). */
  activationMemoryBudget: number | null;
  /** Rows per device per micro-batch (DPO: pairs). */
  batchSize: number;
  /** Tokens per sequence (the longest a batch can be). */
  maxLength: number;
  /** LoRA adapters (use_peft): rank, the modules they sit on (q_proj..down_proj) and lora_dropout. */
  lora: { r: number; targets: string[]; dropout: number } | null;
  /** DPO/KTO: a second copy of the weights ('copy'), the policy with its adapters off ('base'), or none (SFT). */
  reference: 'copy' | 'base' | 'none';
  /** ref_model_dtype: the reference copy's dtype; null: the policy's. */
  referenceDtype: WeightDtype | null;
  /** The reference's log-probs computed once before training: a reference copy is freed before step 1. */
  precomputeRefLogProbs: boolean;
  /**
   * 0 (DDP), 1 (AdamW state sharded), 2 (and gradients: zero_stage 2, fsdp shard_grad_op), 3 (and parameters:
   * fsdp full_shard; every layer recomputes then, and the reference stays whole).
   */
  zeroStage: number;
  worldSize: number;
  /** ddp_bucket_cap_mb in bytes: the gradient buckets' size. */
  bucketBytes: number;
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
  /** This rank's weights (ZeRO-3: its shard and the gathered units). */
  weights: number;
  /** The gradients at the optimizer step (ZeRO-2/3: the owned ones and the bucket in flight). */
  gradients: number;
  /** DDP's flat gradient buckets, kept between backward passes (world size > 1, zero_stage 0 or 1). */
  gradientBuckets: number;
  optimizer: number;
  /** The reference model's weights while training runs (0 with 'base' or once precomputed). */
  reference: number;
  /** A reference copy held only while its log-probs are precomputed, before step 1. */
  referenceFreedAfterPrecompute: number;
  /**
   * Loading, before any step: the policy, its AdamW states (made with the optimizer, before the reference loads),
   * the reference and the safetensors file being read, whose mapped pages count as resident until the copy is done.
   * It decides the peak when little trains (LoRA), and with precompute_ref_log_probs.
   */
  loading: number;
  /** bf16 autocast's cache of the trained float32 weights cast to bfloat16, alive through each forward. */
  autocastCache: number;
  /** What one decoder layer saves, per token. */
  layerSaved: SavedTensor[];
  activations: {
    withCheckpointing: number;
    withoutCheckpointing: number;
    /** The layers that recompute in backward (gradient_checkpointing, every_n_layers, activation_memory_budget). */
    checkpointedLayers: number;
    /** What this run keeps: the checkpointed layers' inputs and the other layers' saved tensors. */
    planned: number;
  };
  /**
   * The backward's transient working set beyond the kept activations: the larger of the loss head's (its saved
   * hidden states, two logits tiles, the hidden states' gradient) and one layer's (recomputed, with the gradients in
   * flight and the SwiGLU buffer); lm_head's gradient, made first by the fused kernel, comes on top.
   */
  backwardWorkspace: number;
  /** The (tokens, vocab) logits and log-softmax a plain lm_head + log_softmax would keep; the fused kernel never makes them. */
  logitsAvoided: number;
  /** libtorch, Node and the tokenizer/data (CPU), or the CUDA context (GPU). */
  runtime: number;
  /**
   * The peak: runtime + weights + optimizer + reference + buckets + the larger of (the forward's end: activations,
   * the loss head, the autocast cache), (the backward: activations + working set + lm_head's gradient) and (all
   * gradients, a tied embedding's twice, at the end of backward and the optimizer step); or, when larger, the
   * reference precompute's or the loading's.
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
/** The fused loss's tile (SFT: logits_tile_cpu.cpp's lossRowChunk), four times the log-prob tile's area on CPU. */
const CPU_LOSS_TILE = 4 * CPU_TILE;

const LORA_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
/** Phi-3's projections: q/k/v and gate/up fused (native/models/lora.cpp layerLinears). */
const FUSED_LORA_MODULES = ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'];

/** The modules lora_target_modules selects ('all-linear': every projection) on a model with (fused) projections. */
export function loraModules(targets: string[], fused = false): string[] {
  const modules = fused ? FUSED_LORA_MODULES : LORA_MODULES;
  return targets.includes('all-linear') ? modules : modules.filter((m) => targets.includes(m));
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
    qkv_proj: [h, q + 2 * kv],
    gate_up_proj: [h, 2 * i],
  };
}

export function loraParameters(s: ModelShape, lora: { r: number; targets: string[] }): number {
  const features = moduleFeatures(s);
  const count = (modules: string[]) => modules.reduce((n, m) => n + lora.r * (features[m]![0] + features[m]![1]), 0);
  const modules = loraModules(lora.targets, familyShape(s.modelType).fused);
  if (!s.moe) return s.numLayers * count(modules);
  // A MoE layer has experts in place of the MLP's projections. all-linear adapts the router and the experts as
  // PEFT 0.21's target_parameters do (native/models/expert_lora.h: A (r·E, in), B (out, r·E), gate_up_proj at 2r)
  // and leaves a dense layer's MLP out, as PEFT does.
  const { numExperts: e, intermediateSize: i, layers } = s.moe;
  const h = s.hiddenSize;
  const attention = count(modules.filter((m) => !['gate_proj', 'up_proj', 'down_proj'].includes(m)));
  if (!lora.targets.includes('all-linear'))
    return s.numLayers * attention + (s.numLayers - layers) * (count(modules) - attention);
  const experts = lora.r * (h + e) + 2 * lora.r * e * (h + 2 * i) + lora.r * e * (i + h);
  return s.numLayers * attention + layers * experts;
}

/**
 * What one decoder layer keeps for backward, per token, as autograd saves it in our forward:
 * - float32 without autocast, no biases or adapters: the fused norm + projections (rms_norm.cpp) keep the layer
 *   input only, SDPA its q, k, v and output, the fused SwiGLU (swiglu_mlp.cpp) gate and up;
 * - otherwise the plain ops: the norm keeps its input and output, each autocast linear its own bfloat16 copy of
 *   its input, the MLP gate, silu(gate), up and their product;
 * - with LoRA (loraLayerSaved) the base weights are frozen, so their linears keep nothing.
 * RoPE keeps nothing per token (cos/sin are shared); with padding (a masked batch, as preference data is) the
 * keys and values are expanded to every head (repeat_kv) before SDPA, which keeps the copies.
 */
export function layerSavedTensors(s: ModelShape, settings: PlanSettings): SavedTensor[] {
  if (settings.lora) return loraLayerSaved(s, settings, settings.lora);
  const h = s.hiddenSize,
    i = s.intermediateSize;
  const float32 = settings.weightDtype === 'float32';
  const a = activationBytes(settings);
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
  if (fusedPath && !s.qkvBias) {
    out.push({ name: 'attention input (fused norm + q/k/v)', bytesPerToken: 4 * h });
  } else {
    norm('attention', 3);
  }
  out.push(sdpaSaved(s, settings, a));
  if (fusedPath) {
    out.push({ name: 'MLP input (fused norm + gate/up)', bytesPerToken: 4 * h });
    out.push({ name: 'MLP gate, up (fused SwiGLU)', bytesPerToken: 8 * i });
  } else {
    norm('MLP', 2);
    out.push({ name: 'MLP gate, silu(gate), up, product', bytesPerToken: 4 * a * i });
  }
  return out;
}

/** Bytes per element of the linear outputs and SDPA's tensors: float32 only without autocast on float32 weights. */
function activationBytes(settings: PlanSettings): number {
  return settings.weightDtype === 'float32' && !settings.bf16 ? 4 : 2;
}

/**
 * SDPA on a masked batch keeps q, k and v (k and v expanded to every head by repeat_kv), its output, and the
 * boolean mask converted to its dtype: a (sequences, 1, T, T) copy per layer, T bytes x a per token.
 */
function sdpaSaved(s: ModelShape, settings: PlanSettings, a: number): SavedTensor {
  const q = s.numHeads * s.headDim;
  return {
    name: 'SDPA q, k, v (k, v expanded to all heads), output, mask copy',
    bytesPerToken: a * (4 * q + settings.maxLength),
  };
}

/**
 * LoRA (causal_lm.cpp's linear: base(x) + B(A(dropout(x))) * scaling) on frozen base weights: a base linear keeps
 * nothing (its weight needs no gradient, and x's gradient needs only the weight); the norms keep their float32
 * input; each adapter keeps its input (one tensor for the adapters that share it, unless autocast casts a copy for
 * each) and its rank-r middle. With dropout (lora_dropout, unless disable_dropout: DPO's and KTO's default) each
 * adapter has its own dropped-out input, and the CPU's dropout (input * noise) keeps its noise, in the input's dtype.
 * The MLP keeps gate (silu's input), silu(gate) and up (the product's operands); the product only through
 * down_proj's adapter. Float32 without autocast takes the fused MLP where it has no adapters.
 */
function loraLayerSaved(s: ModelShape, settings: PlanSettings, lora: NonNullable<PlanSettings['lora']>): SavedTensor[] {
  const h = s.hiddenSize,
    q = s.numHeads * s.headDim,
    i = s.intermediateSize;
  const a = activationBytes(settings);
  const normOut = settings.weightDtype === 'float32' ? 4 : 2; // the norms compute in float32, return the weights' dtype
  const autocastCopies = settings.weightDtype === 'float32' && settings.bf16;
  const targets = loraModules(lora.targets, familyShape(s.modelType).fused);
  const adapters = (modules: string[], features: number, inputBytes: number, input: string): SavedTensor | null => {
    const on = modules.filter((m) => targets.includes(m));
    if (on.length === 0) return null;
    const inputs =
      lora.dropout > 0 ? on.length * (inputBytes + a) * features : (autocastCopies ? on.length : 1) * a * features;
    return {
      name: `LoRA ${on.join(', ')}: ${lora.dropout > 0 ? 'dropout noise + dropped ' : ''}${input}, rank-${lora.r} middles`,
      bytesPerToken: inputs + on.length * a * lora.r,
    };
  };
  const mlp = adapters(['gate_proj', 'up_proj', 'gate_up_proj'], h, normOut, 'norm output');
  const down = adapters(['down_proj'], i, a, 'SwiGLU product');
  const fusedMlp = settings.weightDtype === 'float32' && !settings.bf16 && !mlp && !down;
  const out: SavedTensor[] = [
    { name: 'attention norm input (float32)', bytesPerToken: 4 * h },
    sdpaSaved(s, settings, a),
    { name: 'MLP norm input (float32)', bytesPerToken: 4 * h },
    fusedMlp
      ? { name: 'MLP gate, up (fused SwiGLU)', bytesPerToken: 8 * i }
      : { name: 'MLP gate, silu(gate), up', bytesPerToken: 3 * a * i },
  ];
  const attention = adapters(['q_proj', 'k_proj', 'v_proj', 'qkv_proj'], h, normOut, 'norm output');
  for (const t of [attention, adapters(['o_proj'], q, a, 'attention output'), mlp, down]) if (t) out.push(t);
  return out;
}

/** Bytes per token the final norm keeps, with the hidden states the fused log-prob kernel keeps. */
function headBytesPerToken(s: ModelShape, settings: PlanSettings): number {
  return (settings.weightDtype === 'float32' && settings.bf16 ? 12 : 8) * s.hiddenSize;
}

/**
 * How many of `layers` decoder layers recompute in backward, as src/train picks them: none without
 * gradient_checkpointing; activation_memory_budget b: round((1 - b) x layers); else every_n_layers n: layers i with
 * i % n == 0, ceil(layers / n).
 */
export function checkpointedLayerCount(settings: PlanSettings, layers: number): number {
  if (!settings.gradientCheckpointing) return 0;
  if (settings.activationMemoryBudget !== null) return Math.round((1 - settings.activationMemoryBudget) * layers);
  return Math.ceil(layers / Math.max(1, settings.checkpointEveryNLayers));
}

const bytesOf = (dtype: WeightDtype) => (dtype === 'float32' ? 4 : 2);

/** ZeRO-3's units (native/distributed/full_shard): each decoder layer, and the root (embeddings, final norm, lm_head). */
function units(s: ModelShape, parameters: number): { root: number; layer: number } {
  const root = s.vocabSize * s.hiddenSize * (s.tieWordEmbeddings ? 1 : 2) + s.hiddenSize;
  return { root, layer: (parameters - root) / s.numLayers };
}

/**
 * Parameters resident on this rank: all of them, or with ZeRO-3 its 1/N of every unit and the units gathered on
 * top: the root whole from the forward's start to the end of its backward, and two decoder layers (the one in use
 * and the one prefetched).
 */
function residentParameters(s: ModelShape, settings: PlanSettings, parameters: number): number {
  if (settings.zeroStage < 3 || settings.worldSize < 2) return parameters;
  const { root, layer } = units(s, parameters);
  return parameters / settings.worldSize + root + 2 * layer;
}

export function memoryPlan(s: ModelShape, settings: PlanSettings): MemoryPlan {
  const w = bytesOf(settings.weightDtype);
  const n = settings.worldSize;
  const parameters = parameterCount(s);
  const trainableParameters = settings.lora ? loraParameters(s, settings.lora) : parameters;
  // Paired trainers run chosen and rejected rows as one batch; KTO's (and BCO's) KL rows run without autograd.
  const sequences = UNPAIRED_TRAINERS.includes(settings.trainer) ? settings.batchSize : 2 * settings.batchSize;
  const tokens = sequences * settings.maxLength;
  const adapters = settings.lora ? trainableParameters : 0;
  const weights = (residentParameters(s, settings, parameters) + adapters) * w;
  const gradientBytes = trainableParameters * w;
  // ZeRO-2/3: a rank keeps its owned parameters' gradients, and the bucket being reduced (its flat buffer and the
  // gradients copied into it); below that, with several ranks, DDP's flat buckets hold a second copy of them all.
  const sharded = settings.zeroStage >= 2 && n > 1;
  const inFlightBucket = Math.min(gradientBytes, settings.bucketBytes);
  // ZeRO-3 reduce-scatters per unit: one layer's full gradients and up to two flat units in flight.
  const zero3InFlight = () => {
    const { root, layer } = units(s, parameters);
    return w * (layer + 2 * Math.max(root, layer));
  };
  const gradients = !sharded
    ? gradientBytes
    : gradientBytes / n + (settings.zeroStage >= 3 ? zero3InFlight() : 2 * inFlightBucket);
  const gradientBuckets = n > 1 && !sharded ? gradientBytes : 0;
  const optimizer = (2 * trainableParameters * w) / (settings.zeroStage >= 1 ? n : 1);
  const referenceCopy =
    settings.reference === 'copy' ? parameters * bytesOf(settings.referenceDtype ?? settings.weightDtype) : 0;
  const reference = settings.precomputeRefLogProbs ? 0 : referenceCopy;
  // ZeRO-3 gathers two layers at a time: only theirs are cast.
  const castLayers = settings.zeroStage >= 3 && n > 1 ? Math.min(2, s.numLayers) : s.numLayers;
  const autocastCache = settings.bf16 && w === 4 && !settings.lora ? 2 * castLayers * layerLinearParams(s) : 0;

  const layerSaved = layerSavedTensors(s, settings);
  const layerBytes = layerSaved.reduce((m, t) => m + t.bytesPerToken, 0);
  const head = headBytesPerToken(s, settings) * tokens;
  // A checkpointed layer keeps its input (the residual stream, in the weights' dtype); the others all they save.
  const kept = (checkpointed: number) =>
    tokens * (w * s.hiddenSize * checkpointed + layerBytes * (s.numLayers - checkpointed));
  const checkpointedLayers = checkpointedLayerCount(settings, s.numLayers);
  const planned = kept(checkpointedLayers);
  const a = activationBytes(settings);
  const tile = settings.device === 'cuda' ? CUDA_TILE : CPU_TILE;
  // The loss head's backward (its saved hidden states, two logits tiles, dL/dhidden in float32), then each layer's:
  // a checkpointed one recomputed, with the gradients in flight (the residual's, q/k/v's, the SwiGLU buffer).
  const headPhase = head + 2 * tile + 4 * s.hiddenSize * tokens;
  const layerPhase =
    tokens * ((checkpointedLayers > 0 ? layerBytes : 0) + 2 * a * s.intermediateSize + 16 * s.hiddenSize);
  const backwardWorkspace = Math.max(headPhase, layerPhase);
  // Gradients are freed after each optimizer step (zero_grad sets them to None) and made during backward as the
  // activations are freed: at the backward's start only lm_head's exists (the fused kernel makes it first).
  const lmHeadGradient = settings.lora ? 0 : s.vocabSize * s.hiddenSize * w;
  // A plain lm_head + log_softmax keeps the log-softmax (float32) and makes the logits (bf16 under autocast) first.
  const logitsAvoided = tokens * s.vocabSize * (4 + (settings.bf16 || w === 2 ? 2 : 4));
  const runtime = settings.device === 'cuda' ? CUDA_RUNTIME : CPU_RUNTIME;

  // All gradients exist at the optimizer step, when the activations are gone. A tied embedding's second gradient
  // (the embedding backward's dense one) exists beside lm_head's until autograd adds it in.
  const tiedGradient = s.tieWordEmbeddings && !settings.lora ? s.vocabSize * s.hiddenSize * w : 0;
  // SFT's fused loss (sft_step.cpp) makes lm_head's and the hidden states' gradients in the forward, over its own
  // tile, with lm_head cast to bfloat16 under autocast and the tiles' float32 copy of it.
  const lmHeadElements = s.vocabSize * s.hiddenSize;
  const lossCasts = !settings.bf16 && w === 4 ? 0 : lmHeadElements * (w === 4 ? 2 + 4 : 4);
  const lossForward =
    settings.trainer === 'sft'
      ? lmHeadGradient +
        4 * s.hiddenSize * tokens +
        (settings.device === 'cuda' ? CUDA_TILE : CPU_LOSS_TILE) +
        lossCasts
      : tile;
  const forwardEnd = planned + head + autocastCache + lossForward;
  const backward = planned + backwardWorkspace + lmHeadGradient;
  const step =
    runtime +
    weights +
    optimizer +
    reference +
    gradientBuckets +
    Math.max(forwardEnd, backward, gradients + tiedGradient);
  // AdamW's states are made (zeroed) with the optimizer, before the reference loads (native/train/adamw.cpp).
  // Before step 1: the policy, its optimizer, the reference and its no-grad forward (one layer's working set, a tile).
  const precompute = settings.precomputeRefLogProbs
    ? runtime + weights + optimizer + referenceCopy + tokens * layerBytes + tile
    : 0;
  // The last file read: the reference's beside the policy and its optimizer (without a reference: the policy's,
  // before its optimizer exists), mapped in the checkpoint's dtype: its pages count until the copy is done.
  const fileBytes = parameters * (s.dtype === 'bfloat16' || s.dtype === 'float16' ? 2 : 4);
  const loading =
    settings.device !== 'cpu'
      ? 0
      : // Every rank loads the whole model (ZeRO-3 shards it after).
        runtime + (parameters + adapters) * w + fileBytes + (referenceCopy > 0 ? optimizer + referenceCopy : 0);
  return {
    parameters,
    trainableParameters,
    sequences,
    tokens,
    weights,
    gradients,
    gradientBuckets,
    optimizer,
    reference,
    referenceFreedAfterPrecompute: settings.precomputeRefLogProbs ? referenceCopy : 0,
    loading,
    autocastCache,
    layerSaved,
    activations: {
      withCheckpointing: kept(s.numLayers),
      withoutCheckpointing: kept(0),
      checkpointedLayers,
      planned,
    },
    backwardWorkspace,
    logitsAvoided,
    runtime,
    total: Math.max(step, precompute, loading),
  };
}
