#include "model.h"

#include <ATen/core/grad_mode.h>

#include "common/autocast.h"
#include "common/error.h"
#include "js_options.h"
#include "promise_worker.h"
#include "tensor_view.h"
#include "train/causal_lm_loss.h"
#include "train/ref_model_sync.h"

namespace alignkit::binding {
namespace {

struct Unit {};

// Marks JS objects that really are NativeModels (napi_type_tag), so other handles can accept one safely.
constexpr napi_type_tag kModelTag = {0x6a1c9e2f4b7d4e31ULL, 0x9d8e5a0c7f3b2164ULL};

}  // namespace

models::CausalLM& ModelState::causalLM() const {
  if (!model.model) throw invalidArgument("this model was disposed");
  return *model.model;
}

const models::CausalLM& NativeModel::loaded(Napi::Env env) const {
  if (!state_->model.model) throw Napi::Error::New(env, "this model was disposed");
  return *state_->model.model;
}

Napi::Function NativeModel::define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {StaticMethod<&NativeModel::load>("load"),
                      InstanceMethod<&NativeModel::config>("config"),
                      InstanceMethod<&NativeModel::parameters>("parameters"),
                      InstanceMethod<&NativeModel::logits>("logits"),
                      InstanceMethod<&NativeModel::forwardBackward>("forwardBackward"),
                      InstanceMethod<&NativeModel::completionLogProbs>("completionLogProbs"),
                      InstanceMethod<&NativeModel::dpoStep>("dpoStep"),
                      InstanceMethod<&NativeModel::ktoStep>("ktoStep"),
                      InstanceMethod<&NativeModel::orpoStep>("orpoStep"),
                      InstanceMethod<&NativeModel::cpoStep>("cpoStep"),
                      InstanceMethod<&NativeModel::bcoStep>("bcoStep"),
                      InstanceMethod<&NativeModel::listwiseStep>("listwiseStep"),
                      InstanceMethod<&NativeModel::sftStep>("sftStep"),
                      InstanceMethod<&NativeModel::gradients>("gradients"),
                      InstanceMethod<&NativeModel::zeroGrad>("zeroGrad"),
                      InstanceMethod<&NativeModel::mixParameters>("mixParameters"),
                      InstanceMethod<&NativeModel::save>("save"),
                      InstanceMethod<&NativeModel::attachLora>("attachLora"),
                      InstanceMethod<&NativeModel::loadAdapter>("loadAdapter"),
                      InstanceMethod<&NativeModel::saveAdapter>("saveAdapter"),
                      InstanceMethod<&NativeModel::mergeLora>("mergeLora"),
                      InstanceMethod<&NativeModel::disableDropout>("disableDropout"),
                      InstanceMethod<&NativeModel::dispose>("dispose"),
                      InstanceMethod<&NativeModel::rewardStep>("rewardStep"),
                      StaticMethod<&NativeModel::writeScoreHeadWeights>("writeScoreHeadWeights")});
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
            env, new std::shared_ptr<ModelState>(state), [](Napi::Env, std::shared_ptr<ModelState>* p) { delete p; });
        return constructor->New({handle});
      });
}

Napi::Value NativeModel::config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const models::CausalLM& m = loaded(env);
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
  out.Set("numLabels", c.numLabels);
  out.Set("ropeType", c.rope.type);
  out.Set("dtype", models::dtypeName(m.dtype()));
  out.Set("device", m.device().str());
  out.Set("sourceDir", state_->model.sourceDir);
  out.Set("lora", m.lora().has_value());
  return out;
}

// parameters() -> [{ name, shape }]: the model's, then its LoRA adapters' (as a PeftModel's named_parameters has both).
Napi::Value NativeModel::parameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  models::NamedTensors params = loaded(info.Env()).parameters();
  const models::NamedTensors& adapters = loaded(info.Env()).adapterParameters();
  params.insert(params.end(), adapters.begin(), adapters.end());
  Napi::Array out = Napi::Array::New(env, params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", params[i].first);
    Napi::Array shape = Napi::Array::New(env);
    // zero_stage 3 empties the tensors between uses: the shapes are the unsharded ones it recorded.
    const bool sharded = state_->fullShard && i < state_->fullShard->parameters().size();
    for (int64_t d : sharded ? at::IntArrayRef(state_->fullShard->parameterShape(i)) : params[i].second.sizes())
      shape.Set(shape.Length(), Napi::Number::New(env, d));
    p.Set("shape", shape);
    out.Set(static_cast<uint32_t>(i), p);
  }
  return out;
}

// logits(inputIds, attentionMask?, positionIds?, batch, seqLen, { bf16? }) -> Promise<{ data: Float32Array, shape }>;
// with bf16 the forward runs under bfloat16 autocast and its logits are widened, as accelerate returns them.
Napi::Value NativeModel::logits(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keepAlive;
  const Batch b = viewBatch(info, /*withPositions=*/true, keepAlive);
  const bool bf16 = info[5].IsObject() && forwardOptions(info[5].As<Napi::Object>()).bf16;
  auto state = state_;
  return PromiseWorker<at::Tensor>::start(
      info.Env(),
      [state, b, bf16] {
        std::lock_guard<std::mutex> lock(state->mutex);
        at::NoGradGuard noGrad;
        const AutocastGuard autocast(state->causalLM().device().type(), bf16);
        return state->causalLM()
            .logits(b.inputIds, b.attentionMask, b.positionIds)
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
        return train::causalLmLossBackward(state->causalLM(), b.inputIds, b.attentionMask);
      },
      [](Napi::Env env, double& loss) -> Napi::Value { return Napi::Number::New(env, loss); }, keepAlive);
}

// gradients() -> Promise<Array<{ name, data: Float32Array, shape }>>, parameters without a gradient omitted.
Napi::Value NativeModel::gradients(const Napi::CallbackInfo& info) {
  auto state = state_;
  return PromiseWorker<models::NamedTensors>::start(
      info.Env(),
      [state] {
        std::lock_guard<std::mutex> lock(state->mutex);
        models::NamedTensors grads;
        for (const auto& [name, p] : state->causalLM().trainableParameters())
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

Napi::Value NativeModel::whileLocked(Napi::Env env, std::function<void(ModelState&)> work) {
  auto state = state_;
  return PromiseWorker<Unit>::start(
      env,
      [state, work] {
        std::lock_guard<std::mutex> lock(state->mutex);
        work(*state);
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

Napi::Value NativeModel::zeroGrad(const Napi::CallbackInfo& info) {
  return whileLocked(info.Env(), [](ModelState& state) {
    train::zeroGradients(state.causalLM());
    if (state.fullShard) state.fullShard->zeroGrad();
  });
}

// mixParameters(source: NativeModel, alpha: number) -> Promise<void>: this ← (1 − alpha)·this + alpha·source.
Napi::Value NativeModel::mixParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<ModelState> source = stateOf(info[0]);
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "alpha must be a number");
  const double alpha = info[1].As<Napi::Number>().DoubleValue();
  auto state = state_;
  return PromiseWorker<Unit>::start(
      env,
      [state, source, alpha] {
        std::unique_lock<std::mutex> lock(state->mutex, std::defer_lock), sourceLock;
        if (source != state) {
          sourceLock = std::unique_lock<std::mutex>(source->mutex, std::defer_lock);
          std::lock(lock, sourceLock);
        } else {
          lock.lock();
        }
        if (state->fullShard || source->fullShard)
          throw invalidArgument("mixParameters: the parameters of a zero_stage 3 model are sharded over its ranks");
        train::mixParameters(state->causalLM(), source->causalLM(), alpha);
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
  return whileLocked(env, [dir, maxShardBytes](ModelState& state) {
    state.causalLM();  // a disposed model has nothing to save
    if (state.fullShard && !state.fullShard->allGathered())
      throw invalidArgument(
          "save: this model's parameters are sharded (zero_stage 3); every rank first gathers them "
          "(NativeOptimizer.gatherParameters)");
    models::savePretrained(state.model, dir, maxShardBytes);
  });
}

// dispose() -> Promise<void>: frees the weights (and gradients) now, after the calls in flight; later calls throw.
// JS's garbage collector sees only the small handle, so a model dropped without this can hold its memory long after.
Napi::Value NativeModel::dispose(const Napi::CallbackInfo& info) {
  return whileLocked(info.Env(), [](ModelState& state) {
    state.reducer.reset();
    state.fullShard.reset();
    state.model.model.reset();
  });
}

}  // namespace alignkit::binding
