#include "generation.h"

#include <cmath>

#include "js_options.h"
#include "promise_worker.h"
#include "tensor_view.h"

namespace alignkit::binding {
namespace {

struct Unit {};

// { do_sample?, temperature?, top_k?, top_p? } under their GenerationConfig names.
generate::SamplingOptions samplingOptions(const Napi::Object& options) {
  generate::SamplingOptions s;
  s.doSample = boolOption(options, "do_sample");
  s.temperature = numberOption(options, "temperature", s.temperature);
  const double topK = numberOption(options, "top_k", 0);
  if (topK < 0 || topK != std::floor(topK))
    throw Napi::TypeError::New(options.Env(), "options.top_k must be an integer >= 0");
  s.topK = static_cast<int64_t>(topK);
  s.topP = numberOption(options, "top_p", s.topP);
  return s;
}

std::vector<int64_t> int32Values(const Napi::Value& v, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), std::string(name) + " must be an Int32Array");
  const Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
}

uint64_t seedOption(const Napi::Object& options) {
  const double seed = numberOption(options, "seed", 0);
  if (seed < 0 || seed > 9007199254740991.0 || seed != std::floor(seed))
    throw Napi::TypeError::New(options.Env(), "options.seed must be an integer in [0, 2^53)");
  return static_cast<uint64_t>(seed);
}

}  // namespace

Napi::Function NativeGeneration::define(Napi::Env env) {
  return DefineClass(
      env, "NativeGeneration",
      {StaticMethod<&NativeGeneration::start>("start"), StaticMethod<&NativeGeneration::warpLogits>("warpLogits"),
       InstanceMethod<&NativeGeneration::step>("step"), InstanceMethod<&NativeGeneration::dispose>("dispose")});
}

// Only `start` constructs instances, passing the state as an External.
NativeGeneration::NativeGeneration(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeGeneration>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "NativeGeneration is created by NativeGeneration.start(model, ...)");
  state_ = *info[0].As<Napi::External<std::shared_ptr<GenerationState>>>().Data();
}

// start(model, inputIds, attentionMask?, batch, seqLen, { max_new_tokens, do_sample?, temperature?, top_k?, top_p?,
//   seed?, eos_token_id?: Int32Array, pad_token_id?, output_logits? }) -> Promise<NativeGeneration>, prefilled.
Napi::Value NativeGeneration::start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<ModelState> model = NativeModel::stateOf(info[0]);
  const int64_t batch = positiveInt(info[3], "batch"), seqLen = positiveInt(info[4], "seqLen");
  const at::Tensor inputIds = viewBatchArray(info[1], batch, seqLen, "inputIds");
  const at::Tensor attentionMask = viewBatchArray(info[2], batch, seqLen, "attentionMask");
  if (!inputIds.defined()) throw Napi::TypeError::New(env, "inputIds is required");
  std::vector<Napi::Value> keepAlive;
  for (size_t i = 1; i < 3; ++i)
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  if (!info[5].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  const Napi::Object options = info[5].As<Napi::Object>();
  generate::GenerationOptions opts;
  opts.sampling = samplingOptions(options);
  opts.maxNewTokens = positiveInt(options.Get("max_new_tokens"), "options.max_new_tokens");
  opts.eosTokenIds = int32Values(options.Get("eos_token_id"), "options.eos_token_id");
  opts.padTokenId = static_cast<int64_t>(numberOption(options, "pad_token_id", 0));
  opts.seed = seedOption(options);
  opts.outputLogits = boolOption(options, "output_logits");
  auto constructor = std::make_shared<Napi::FunctionReference>(Napi::Persistent(info.This().As<Napi::Function>()));
  return PromiseWorker<std::shared_ptr<GenerationState>>::start(
      env,
      [model, inputIds, attentionMask, opts] {
        std::lock_guard<std::mutex> lock(model->mutex);
        auto state = std::make_shared<GenerationState>();
        state->model = model;
        state->generation.emplace(model->causalLM(), inputIds, attentionMask, opts);
        return state;
      },
      [constructor](Napi::Env env, std::shared_ptr<GenerationState>& state) -> Napi::Value {
        auto handle = Napi::External<std::shared_ptr<GenerationState>>::New(
            env, new std::shared_ptr<GenerationState>(state),
            [](Napi::Env, std::shared_ptr<GenerationState>* p) { delete p; });
        return constructor->New({handle});
      },
      keepAlive);
}

// step(maxSteps, stopRows?: Int32Array) -> Promise<{ tokens: Int32Array (batch, steps), steps, done,
//   logits?: Float32Array (steps, batch, vocab) }>
Napi::Value NativeGeneration::step(const Napi::CallbackInfo& info) {
  const int64_t maxSteps = positiveInt(info[0], "maxSteps");
  const std::vector<int64_t> stopRows = int32Values(info[1], "stopRows");
  auto state = state_;
  return PromiseWorker<generate::GenerationChunk>::start(
      info.Env(),
      [state, maxSteps, stopRows] {
        std::lock_guard<std::mutex> lock(state->model->mutex);
        if (!state->generation) throw invalidArgument("this generation was disposed");
        return state->generation->step(state->model->causalLM(), maxSteps, stopRows);
      },
      [](Napi::Env env, generate::GenerationChunk& chunk) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("tokens", toTypedResult(env, chunk.tokens).Get("data"));
        out.Set("steps", Napi::Number::New(env, static_cast<double>(chunk.tokens.size(1))));
        out.Set("done", Napi::Boolean::New(env, chunk.done));
        if (chunk.logits.defined()) out.Set("logits", toFloat32Result(env, chunk.logits).Get("data"));
        return out;
      });
}

// dispose() -> Promise<void>: frees the KV cache now (after a step in flight); later steps reject.
Napi::Value NativeGeneration::dispose(const Napi::CallbackInfo& info) {
  auto state = state_;
  return PromiseWorker<Unit>::start(
      info.Env(),
      [state] {
        std::lock_guard<std::mutex> lock(state->model->mutex);
        state->generation.reset();
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

// warpLogits(scores: Float32Array, batch, vocab, { temperature?, top_k?, top_p? }) -> Float32Array: the sampling
// warpers alone, for checking them against transformers' on fixed scores.
Napi::Value NativeGeneration::warpLogits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = positiveInt(info[1], "batch"), vocab = positiveInt(info[2], "vocab");
  std::vector<Napi::Value> keepAlive;
  const at::Tensor scores = float32View(info[0], batch * vocab, "scores", keepAlive);
  if (!scores.defined()) throw Napi::TypeError::New(env, "scores is required");
  const Napi::Object options = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);
  try {
    return toFloat32Result(env, generate::warpLogits(scores.view({batch, vocab}), samplingOptions(options)))
        .Get("data");
  } catch (const alignkit::Error& e) {
    Napi::Error error = Napi::RangeError::New(env, e.what());
    error.Set("code", Napi::String::New(env, e.code()));
    throw error;
  }
}

}  // namespace alignkit::binding
