#include "js_options.h"

#include "tensor_view.h"

namespace alignkit::binding {

std::string stringOption(const Napi::Object& options, const char* key, const std::string& fallback) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(options.Env(), std::string("options.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

int64_t positiveInt(const Napi::Value& v, const char* name) {
  if (!v.IsNumber() || v.As<Napi::Number>().Int64Value() <= 0)
    throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a positive integer");
  return v.As<Napi::Number>().Int64Value();
}

Batch viewBatch(const Napi::CallbackInfo& info, bool withPositions, std::vector<Napi::Value>& keepAlive) {
  const size_t n = withPositions ? 5 : 4;
  const int64_t batch = positiveInt(info[n - 2], "batch"), seqLen = positiveInt(info[n - 1], "seqLen");
  Batch b;
  b.inputIds = viewBatchArray(info[0], batch, seqLen, "inputIds");
  if (!b.inputIds.defined()) throw Napi::TypeError::New(info.Env(), "inputIds is required");
  b.attentionMask = viewBatchArray(info[1], batch, seqLen, "attentionMask");
  if (withPositions) b.positionIds = viewBatchArray(info[2], batch, seqLen, "positionIds");
  for (size_t i = 0; i < n - 2; ++i)
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  return b;
}

bool boolOption(const Napi::Object& options, const char* key, bool fallback) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(options.Env(), std::string("options.") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

int64_t positiveIntOption(const Napi::Object& options, const char* key, int64_t fallback) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return positiveInt(v, (std::string("options.") + key).c_str());
}

ops::ChunkSizes chunkOptions(const Napi::Object& options) {
  ops::ChunkSizes chunks;
  chunks.rowChunk = positiveIntOption(options, "rowChunk", chunks.rowChunk);
  chunks.vocabChunk = positiveIntOption(options, "vocabChunk", chunks.vocabChunk);
  return chunks;
}

train::ForwardOptions forwardOptions(const Napi::Object& options) {
  train::ForwardOptions forward;
  forward.bf16 = boolOption(options, "bf16");
  forward.gradientCheckpointing = boolOption(options, "gradient_checkpointing");
  const Napi::Value auxCoef = options.Get("router_aux_loss_coef");
  if (auxCoef.IsNumber()) forward.routerAuxLossCoef = auxCoef.As<Napi::Number>().DoubleValue();
  // One flag per decoder layer (src/train/checkpointed-layers.ts); absent = every layer.
  const Napi::Value layers = options.Get("checkpointed_layers");
  if (!layers.IsUndefined() && !layers.IsNull()) {
    if (!layers.IsArray())
      throw Napi::TypeError::New(options.Env(), "options.checkpointed_layers must be an array of booleans");
    const Napi::Array flags = layers.As<Napi::Array>();
    for (uint32_t i = 0; i < flags.Length(); ++i) {
      const Napi::Value flag = flags.Get(i);
      if (!flag.IsBoolean())
        throw Napi::TypeError::New(options.Env(), "options.checkpointed_layers must be an array of booleans");
      forward.checkpointedLayers.push_back(flag.As<Napi::Boolean>().Value());
    }
  }
  return forward;
}

train::CompletionLogProbsOptions logProbsOptions(const Napi::Object& options) {
  train::CompletionLogProbsOptions out;
  out.chunks = chunkOptions(options);
  out.reference = boolOption(options, "reference");
  out.pairTail = boolOption(options, "pairTail");
  out.forward = forwardOptions(options);
  return out;
}

train::StepBackward stepBackward(const Napi::Object& options) {
  train::StepBackward out;
  out.backward = boolOption(options, "backward", true);
  out.lossScale = numberOption(options, "lossScale", 1.0);
  return out;
}

double numberOption(const Napi::Object& options, const char* key, double fallback) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string("options.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

at::Tensor float32View(const Napi::Value& v, int64_t n, const std::string& name, std::vector<Napi::Value>& keepAlive) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
      static_cast<int64_t>(v.As<Napi::Float32Array>().ElementLength()) != n)
    throw Napi::TypeError::New(v.Env(), name + " must be a Float32Array of " + std::to_string(n) + " values");
  keepAlive.push_back(v);
  return at::from_blob(v.As<Napi::Float32Array>().Data(), {n}, at::kFloat);
}

}  // namespace alignkit::binding
