#include "model.h"

#include <ATen/core/grad_mode.h>

#include "promise_worker.h"
#include "tensor_view.h"
#include "train/causal_lm_loss.h"
#include "train/completion_logprobs.h"
#include "train/dpo_step.h"

namespace alignkit::binding {
namespace {

struct Unit {};

// Marks JS objects that really are NativeModels (napi_type_tag), so other handles can accept one safely.
constexpr napi_type_tag kModelTag = {0x6a1c9e2f4b7d4e31ULL, 0x9d8e5a0c7f3b2164ULL};

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

// Views of a batch's typed arrays: (inputIds, attentionMask?, [positionIds?,] batch, seqLen).
struct Batch {
  at::Tensor inputIds, attentionMask, positionIds;
};

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

bool boolOption(const Napi::Object& options, const char* key) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsBoolean()) throw Napi::TypeError::New(options.Env(), std::string("options.") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

int64_t positiveIntOption(const Napi::Object& options, const char* key, int64_t fallback) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return positiveInt(v, (std::string("options.") + key).c_str());
}

double numberOption(const Napi::Object& options, const char* key, double fallback) {
  const Napi::Value v = options.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string("options.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// A Float32Array of n values viewed in place, or undefined when absent.
at::Tensor float32View(const Napi::Value& v, int64_t n, const std::string& name, std::vector<Napi::Value>& keepAlive) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
      static_cast<int64_t>(v.As<Napi::Float32Array>().ElementLength()) != n)
    throw Napi::TypeError::New(v.Env(), name + " must be a Float32Array of " + std::to_string(n) + " values");
  keepAlive.push_back(v);
  return at::from_blob(v.As<Napi::Float32Array>().Data(), {n}, at::kFloat);
}

// DPOConfig's loss fields under their TRL names.
train::DpoLossOptions dpoLossOptions(const Napi::Object& o) {
  Napi::Env env = o.Env();
  train::DpoLossOptions opts;
  opts.beta = numberOption(o, "beta", opts.beta);
  const Napi::Value types = o.Get("loss_type");
  if (!types.IsUndefined() && !types.IsNull()) {
    if (!types.IsArray()) throw Napi::TypeError::New(env, "options.loss_type must be an array of strings");
    const Napi::Array a = types.As<Napi::Array>();
    opts.lossType.clear();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsString()) throw Napi::TypeError::New(env, "options.loss_type must be an array of strings");
      opts.lossType.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
  }
  const Napi::Value weights = o.Get("loss_weights");
  if (!weights.IsUndefined() && !weights.IsNull()) {
    if (!weights.IsArray()) throw Napi::TypeError::New(env, "options.loss_weights must be an array of numbers");
    const Napi::Array a = weights.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsNumber()) throw Napi::TypeError::New(env, "options.loss_weights must be an array of numbers");
      opts.lossWeights.push_back(a.Get(i).As<Napi::Number>().DoubleValue());
    }
  }
  opts.labelSmoothing = numberOption(o, "label_smoothing", opts.labelSmoothing);
  opts.useWeighting = boolOption(o, "use_weighting");
  const Napi::Value ld = o.Get("ld_alpha");
  if (!ld.IsUndefined() && !ld.IsNull()) opts.ldAlpha = numberOption(o, "ld_alpha", 0.0);
  opts.fDivergenceType = stringOption(o, "f_divergence_type", opts.fDivergenceType);
  opts.fAlphaDivergenceCoef = numberOption(o, "f_alpha_divergence_coef", opts.fAlphaDivergenceCoef);
  opts.discopopTau = numberOption(o, "discopop_tau", opts.discopopTau);
  return opts;
}

}  // namespace

Napi::Function NativeModel::define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {StaticMethod<&NativeModel::load>("load"), InstanceMethod<&NativeModel::config>("config"),
                      InstanceMethod<&NativeModel::parameters>("parameters"),
                      InstanceMethod<&NativeModel::logits>("logits"),
                      InstanceMethod<&NativeModel::forwardBackward>("forwardBackward"),
                      InstanceMethod<&NativeModel::completionLogProbs>("completionLogProbs"),
                      InstanceMethod<&NativeModel::dpoStep>("dpoStep"),
                      InstanceMethod<&NativeModel::gradients>("gradients"),
                      InstanceMethod<&NativeModel::zeroGrad>("zeroGrad"), InstanceMethod<&NativeModel::save>("save")});
}

// Only `load` constructs instances, passing the loaded state as an External.
NativeModel::NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "NativeModel is created by NativeModel.load(dir, options)");
  state_ = *info[0].As<Napi::External<std::shared_ptr<ModelState>>>().Data();
  info.This().As<Napi::Object>().TypeTag(&kModelTag);
}

std::shared_ptr<ModelState> NativeModel::stateOf(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kModelTag))
    throw Napi::TypeError::New(value.Env(), "model must be a NativeModel");
  return Unwrap(value.As<Napi::Object>())->state_;
}

// load(dir: string, options: { dtype?, device? }) -> Promise<NativeModel>
Napi::Value NativeModel::load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "dir must be a string");
  const std::string dir = info[0].As<Napi::String>().Utf8Value();
  const Napi::Object options = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  models::LoadOptions opts{stringOption(options, "dtype", ""), stringOption(options, "device", "cpu")};
  auto constructor = std::make_shared<Napi::FunctionReference>(Napi::Persistent(info.This().As<Napi::Function>()));

  return PromiseWorker<std::shared_ptr<ModelState>>::start(
      env,
      [dir, opts] {
        auto state = std::make_shared<ModelState>();
        state->model = models::loadPretrained(dir, opts);
        return state;
      },
      [constructor](Napi::Env env, std::shared_ptr<ModelState>& state) -> Napi::Value {
        Napi::External<std::shared_ptr<ModelState>> handle = Napi::External<std::shared_ptr<ModelState>>::New(
            env, new std::shared_ptr<ModelState>(state),
            [](Napi::Env, std::shared_ptr<ModelState>* p) { delete p; });
        return constructor->New({handle});
      });
}

Napi::Value NativeModel::config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const models::CausalLM& m = *state_->model.model;
  const models::ModelConfig& c = m.config();
  Napi::Object out = Napi::Object::New(env);
  out.Set("modelType", c.modelType);
  out.Set("vocabSize", c.vocabSize);
  out.Set("hiddenSize", c.hiddenSize);
  out.Set("numLayers", c.numLayers);
  out.Set("numHeads", c.numHeads);
  out.Set("numKvHeads", c.numKvHeads);
  out.Set("headDim", c.headDim);
  out.Set("tieWordEmbeddings", c.tieWordEmbeddings);
  out.Set("ropeType", c.rope.type);
  out.Set("dtype", models::dtypeName(m.dtype()));
  out.Set("device", m.device().str());
  out.Set("sourceDir", state_->model.sourceDir);
  return out;
}

Napi::Value NativeModel::parameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& params = state_->model.model->parameters();
  Napi::Array out = Napi::Array::New(env, params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", params[i].first);
    Napi::Array shape = Napi::Array::New(env);
    for (int64_t d : params[i].second.sizes()) shape.Set(shape.Length(), Napi::Number::New(env, d));
    p.Set("shape", shape);
    out.Set(static_cast<uint32_t>(i), p);
  }
  return out;
}

// logits(inputIds, attentionMask?, positionIds?, batch, seqLen) -> Promise<{ data: Float32Array, shape }>
Napi::Value NativeModel::logits(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keepAlive;
  const Batch b = viewBatch(info, /*withPositions=*/true, keepAlive);
  auto state = state_;
  return PromiseWorker<at::Tensor>::start(
      info.Env(),
      [state, b] {
        std::lock_guard<std::mutex> lock(state->mutex);
        at::NoGradGuard noGrad;
        return state->model.model->logits(b.inputIds, b.attentionMask, b.positionIds)
            .to(at::kCPU, at::kFloat)
            .contiguous();
      },
      [](Napi::Env env, at::Tensor& t) -> Napi::Value { return toFloat32Result(env, t); }, keepAlive);
}

// forwardBackward(inputIds, attentionMask?, batch, seqLen) -> Promise<number>: causal LM loss, grads accumulated.
Napi::Value NativeModel::forwardBackward(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keepAlive;
  const Batch b = viewBatch(info, /*withPositions=*/false, keepAlive);
  auto state = state_;
  return PromiseWorker<double>::start(
      info.Env(),
      [state, b] {
        std::lock_guard<std::mutex> lock(state->mutex);
        return train::causalLmLossBackward(*state->model.model, b.inputIds, b.attentionMask);
      },
      [](Napi::Env env, double& loss) -> Napi::Value { return Napi::Number::New(env, loss); }, keepAlive);
}

// completionLogProbs(inputIds, attentionMask?, completionMask, batch, seqLen,
//   { backward?, gradOutput?: Float32Array (batch), rowChunk?, vocabChunk?, reference? })
//   -> Promise<{ logps, meanLogit, entropy: Float32Array, tokens, correct: Int32Array }>, each (batch).
// With backward, sum_b gradOutput[b] * logps[b] (gradOutput defaults to ones) is back-propagated.
Napi::Value NativeModel::completionLogProbs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = positiveInt(info[3], "batch"), seqLen = positiveInt(info[4], "seqLen");
  const at::Tensor inputIds = viewBatchArray(info[0], batch, seqLen, "inputIds");
  const at::Tensor attentionMask = viewBatchArray(info[1], batch, seqLen, "attentionMask");
  const at::Tensor completionMask = viewBatchArray(info[2], batch, seqLen, "completionMask");
  if (!inputIds.defined() || !completionMask.defined())
    throw Napi::TypeError::New(env, "inputIds and completionMask are required");
  const Napi::Object options = info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object::New(env);
  train::CompletionLogProbsOptions opts;
  opts.chunks.rowChunk = positiveIntOption(options, "rowChunk", opts.chunks.rowChunk);
  opts.chunks.vocabChunk = positiveIntOption(options, "vocabChunk", opts.chunks.vocabChunk);
  opts.reference = boolOption(options, "reference");
  const bool backward = boolOption(options, "backward");
  std::vector<Napi::Value> keepAlive;
  for (size_t i = 0; i < 3; ++i)
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  at::Tensor gradOutput = at::ones({batch}, at::kFloat);
  const Napi::Value g = options.Get("gradOutput");
  if (!g.IsUndefined() && !g.IsNull()) {
    if (!g.IsTypedArray() || g.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        static_cast<int64_t>(g.As<Napi::Float32Array>().ElementLength()) != batch)
      throw Napi::TypeError::New(env, "options.gradOutput must be a Float32Array of batch (" +
                                          std::to_string(batch) + ") values");
    gradOutput = at::from_blob(g.As<Napi::Float32Array>().Data(), {batch}, at::kFloat);
    keepAlive.push_back(g);
  }
  auto state = state_;
  return PromiseWorker<train::CompletionLogProbs>::start(
      env,
      [state, inputIds, attentionMask, completionMask, gradOutput, opts, backward] {
        std::lock_guard<std::mutex> lock(state->mutex);
        const models::CausalLM& model = *state->model.model;
        if (backward)
          return train::completionLogProbsBackward(model, inputIds, attentionMask, completionMask, gradOutput, opts);
        at::NoGradGuard noGrad;
        return train::completionLogProbs(model, inputIds, attentionMask, completionMask, opts);
      },
      [](Napi::Env env, train::CompletionLogProbs& v) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("logps", toFloat32Result(env, v.logps).Get("data"));
        out.Set("tokens", toTypedResult(env, v.tokens.to(at::kInt)).Get("data"));
        out.Set("meanLogit", toFloat32Result(env, v.meanLogit).Get("data"));
        out.Set("entropy", toFloat32Result(env, v.entropy).Get("data"));
        out.Set("correct", toTypedResult(env, v.correct.to(at::kInt)).Get("data"));
        return out;
      },
      keepAlive);
}

// dpoStep(inputIds, attentionMask?, completionMask, batch (2B), seqLen, reference: NativeModel |
//   { chosen: Float32Array, rejected: Float32Array } (B each), options: DPOConfig loss fields by TRL name +
//   { rowChunk?, vocabChunk?, reference?, backward? (default true), lossScale? (default 1) }) -> Promise<{ loss,
//   metrics: { TRL name: number }, chosenRewards, rejectedRewards }>; the gradient of lossScale · loss is
//   accumulated into the policy's parameters unless backward is false.
Napi::Value NativeModel::dpoStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = positiveInt(info[3], "batch"), seqLen = positiveInt(info[4], "seqLen");
  if (batch % 2 != 0) throw Napi::TypeError::New(env, "dpoStep: batch must be 2 x pairs (chosen rows, then rejected)");
  train::DpoBatch b;
  b.inputIds = viewBatchArray(info[0], batch, seqLen, "inputIds");
  b.attentionMask = viewBatchArray(info[1], batch, seqLen, "attentionMask");
  b.completionMask = viewBatchArray(info[2], batch, seqLen, "completionMask");
  if (!b.inputIds.defined() || !b.completionMask.defined())
    throw Napi::TypeError::New(env, "inputIds and completionMask are required");
  std::vector<Napi::Value> keepAlive;
  for (size_t i = 0; i < 3; ++i)
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  std::shared_ptr<ModelState> refState;
  at::Tensor refChosen, refRejected;
  if (!info[5].IsObject()) throw Napi::TypeError::New(env, "reference must be a model or { chosen, rejected }");
  const Napi::Object ref = info[5].As<Napi::Object>();
  if (ref.Has("chosen")) {
    refChosen = float32View(ref.Get("chosen"), batch / 2, "reference.chosen", keepAlive);
    refRejected = float32View(ref.Get("rejected"), batch / 2, "reference.rejected", keepAlive);
    if (!refChosen.defined() || !refRejected.defined())
      throw Napi::TypeError::New(env, "reference.chosen and reference.rejected are both required");
  } else {
    refState = stateOf(ref);
    keepAlive.push_back(ref);
  }
  const Napi::Object options = info[6].IsObject() ? info[6].As<Napi::Object>() : Napi::Object::New(env);
  const train::DpoLossOptions lossOptions = dpoLossOptions(options);
  train::CompletionLogProbsOptions lpOptions;
  lpOptions.chunks.rowChunk = positiveIntOption(options, "rowChunk", lpOptions.chunks.rowChunk);
  lpOptions.chunks.vocabChunk = positiveIntOption(options, "vocabChunk", lpOptions.chunks.vocabChunk);
  lpOptions.reference = boolOption(options, "reference");
  train::DpoBackward backward;
  const Napi::Value backwardOption = options.Get("backward");
  backward.backward = backwardOption.IsUndefined() || backwardOption.IsNull() || boolOption(options, "backward");
  backward.lossScale = numberOption(options, "lossScale", 1.0);
  auto state = state_;
  return PromiseWorker<train::DpoStepResult>::start(
      env,
      [state, refState, b, refChosen, refRejected, lossOptions, lpOptions, backward] {
        std::unique_lock<std::mutex> lock(state->mutex, std::defer_lock), refLock;
        if (refState && refState != state) {
          refLock = std::unique_lock<std::mutex>(refState->mutex, std::defer_lock);
          std::lock(lock, refLock);
        } else {
          lock.lock();
        }
        train::DpoReference reference;
        if (refState) reference.model = refState->model.model.get();
        reference.chosenLogps = refChosen, reference.rejectedLogps = refRejected;
        return train::dpoStep(*state->model.model, b, reference, lossOptions, lpOptions, backward);
      },
      [](Napi::Env env, train::DpoStepResult& r) -> Napi::Value {
        const train::DpoMetrics& m = r.metrics;
        Napi::Object metrics = Napi::Object::New(env);
        metrics.Set("rewards/chosen", m.rewardsChosen);
        metrics.Set("rewards/rejected", m.rewardsRejected);
        metrics.Set("rewards/accuracies", m.rewardsAccuracies);
        metrics.Set("rewards/margins", m.rewardsMargins);
        metrics.Set("logps/chosen", m.logpsChosen);
        metrics.Set("logps/rejected", m.logpsRejected);
        metrics.Set("logits/chosen", m.logitsChosen);
        metrics.Set("logits/rejected", m.logitsRejected);
        metrics.Set("entropy", m.entropy);
        metrics.Set("mean_token_accuracy", m.meanTokenAccuracy);
        metrics.Set("num_tokens", static_cast<double>(m.numTokens));
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", r.loss);
        out.Set("metrics", metrics);
        out.Set("chosenRewards", toFloat32Result(env, r.chosenRewards).Get("data"));
        out.Set("rejectedRewards", toFloat32Result(env, r.rejectedRewards).Get("data"));
        return out;
      },
      keepAlive);
}

// gradients() -> Promise<Array<{ name, data: Float32Array, shape }>>, parameters without a gradient omitted.
Napi::Value NativeModel::gradients(const Napi::CallbackInfo& info) {
  auto state = state_;
  return PromiseWorker<models::NamedTensors>::start(
      info.Env(),
      [state] {
        std::lock_guard<std::mutex> lock(state->mutex);
        models::NamedTensors grads;
        for (const auto& [name, p] : state->model.model->parameters())
          if (p.grad().defined()) grads.emplace_back(name, p.grad().to(at::kCPU, at::kFloat, false, /*copy=*/true));
        return grads;
      },
      [](Napi::Env env, models::NamedTensors& grads) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, grads.size());
        for (size_t i = 0; i < grads.size(); ++i) {
          Napi::Object g = toFloat32Result(env, grads[i].second);
          g.Set("name", grads[i].first);
          out.Set(static_cast<uint32_t>(i), g);
        }
        return out;
      });
}

Napi::Value NativeModel::zeroGrad(const Napi::CallbackInfo& info) {
  auto state = state_;
  return PromiseWorker<Unit>::start(
      info.Env(),
      [state] {
        std::lock_guard<std::mutex> lock(state->mutex);
        train::zeroGradients(*state->model.model);
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

// save(dir, maxShardBytes) -> Promise<void>
Napi::Value NativeModel::save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "dir must be a string");
  const std::string dir = info[0].As<Napi::String>().Utf8Value();
  const uint64_t maxShardBytes = static_cast<uint64_t>(positiveInt(info[1], "maxShardBytes"));
  auto state = state_;
  return PromiseWorker<Unit>::start(
      env,
      [state, dir, maxShardBytes] {
        std::lock_guard<std::mutex> lock(state->mutex);
        models::savePretrained(state->model, dir, maxShardBytes);
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

}  // namespace alignkit::binding
