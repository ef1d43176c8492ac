#include "optimizer.h"

#include <optional>

#include "common/error.h"
#include "io/safetensors.h"
#include "js_options.h"
#include "promise_worker.h"

namespace alignkit::binding {
namespace {

struct Unit {};

double numberArg(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// An option that has no default.
double requiredNumber(const Napi::Object& options, const char* key) {
  return numberArg(options.Get(key), std::string("options.") + key);
}

std::string pathArg(const Napi::Value& v) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), "path must be a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Function NativeOptimizer::define(Napi::Env env) {
  return DefineClass(
      env, "NativeOptimizer",
      {StaticMethod<&NativeOptimizer::create>("create"),
       InstanceMethod<&NativeOptimizer::decayParameterNames>("decayParameterNames"),
       InstanceMethod<&NativeOptimizer::step>("step"), InstanceMethod<&NativeOptimizer::clipGradNorm>("clipGradNorm"),
       InstanceMethod<&NativeOptimizer::save>("save"), InstanceMethod<&NativeOptimizer::load>("load"),
       InstanceMethod<&NativeOptimizer::stateBytes>("stateBytes"),
       InstanceMethod<&NativeOptimizer::gradientBytes>("gradientBytes"),
       InstanceMethod<&NativeOptimizer::parameterBytes>("parameterBytes"),
       InstanceMethod<&NativeOptimizer::gatherParameters>("gatherParameters")});
}

// Only `create` constructs instances, passing the state as an External.
NativeOptimizer::NativeOptimizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeOptimizer>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "NativeOptimizer is created by NativeOptimizer.create(model, options)");
  state_ = *info[0].As<Napi::External<std::shared_ptr<OptimizerState>>>().Data();
}

// create(model: NativeModel, { adamBeta1, adamBeta2, adamEpsilon, weightDecay, fused?, group?, zeroStage?, bucketCapMb?
// })
//   -> Promise<NativeOptimizer>; fused (default true) is optim adamw_torch_fused, false adamw_torch; zeroStage 1
//   shards the state over `group` (a NativeProcessGroup), its broadcasts coalesced in buckets of bucketCapMb
//   (default 25, DDP's); zeroStage 2 also has the model's reducer (the model must be attached to `group`) leave
//   each gradient only on its owner; zeroStage 3 shards the model's parameters themselves over `group` (attached
//   first; its reducer is replaced by the model's FullShard) and updates each rank's shards.
Napi::Value NativeOptimizer::create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<ModelState> model = NativeModel::stateOf(info[0]);
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  const Napi::Object options = info[1].As<Napi::Object>();
  const train::AdamWOptions opts{requiredNumber(options, "adamBeta1"), requiredNumber(options, "adamBeta2"),
                                 requiredNumber(options, "adamEpsilon"), requiredNumber(options, "weightDecay"),
                                 boolOption(options, "fused", true)};
  const double zeroStage = numberOption(options, "zeroStage", 0);
  const bool shard = zeroStage == 1 || zeroStage == 2 || zeroStage == 3;
  const bool shardGradients = zeroStage == 2;
  const bool shardParameters = zeroStage == 3;
  if (!shard && zeroStage != 0)
    throw Napi::RangeError::New(
        env, "options.zeroStage must be 0, 1, 2 or 3, got " + options.Get("zeroStage").ToString().Utf8Value());
  if (shard && options.Get("group").IsUndefined())
    throw Napi::TypeError::New(env, "options.group must be a NativeProcessGroup when options.zeroStage is " +
                                        options.Get("zeroStage").ToString().Utf8Value());
  std::shared_ptr<GroupState> group = shard ? NativeProcessGroup::stateOf(options.Get("group")) : nullptr;
  const double bucketCapMb = numberOption(options, "bucketCapMb", 25);
  if (!(bucketCapMb >= 0))
    throw Napi::RangeError::New(env, "options.bucketCapMb must be a number >= 0 (0: one tensor per broadcast)");
  const auto bucketBytes = static_cast<int64_t>(bucketCapMb * (1 << 20));
  auto constructor = std::make_shared<Napi::FunctionReference>(Napi::Persistent(info.This().As<Napi::Function>()));
  return PromiseWorker<std::shared_ptr<OptimizerState>>::start(
      env,
      [model, opts, group, bucketBytes, shardGradients, shardParameters] {
        auto state = std::make_shared<OptimizerState>();
        state->model = model;
        if (model->fullShard)
          throw invalidArgument("this model's parameters are already sharded (zero_stage 3) by another optimizer");
        if (shardParameters) {
          std::scoped_lock lock(group->mutex, model->mutex);
          group->get();
          if (!model->reducer || !model->reducer->reducesOver(*group->group))
            throw invalidArgument(
                "zeroStage 3 needs the model attached to options.group first (NativeProcessGroup.attach): every "
                "rank must start from rank 0's weights before each keeps its shard");
          models::CausalLM& lm = model->causalLM();
          if (lm.lora())
            throw invalidArgument(
                "zero_stage 3 with LoRA is not supported: it would shard the frozen base weights, which alignkit's "
                "ZeRO-3 does not do (the adapters are small: use zero_stage 2)");
          model->reducer.reset();  // ZeRO-3 reduce-scatters each unit's gradients itself
          model->fullShard =
              distributed::FullShard::create(group->group, lm.trainableParameters(), lm.config().numLayers);
          lm.setParameterUnits(model->fullShard);
          state->group = group;
          state->fullShard = std::make_unique<distributed::FullShardAdamW>(model->fullShard, opts);
        } else if (group) {
          std::scoped_lock lock(group->mutex, model->mutex);
          group->get();
          if (shardGradients && (!model->reducer || !model->reducer->reducesOver(*group->group)))
            throw invalidArgument(
                "zeroStage 2 needs the model attached to options.group first (NativeProcessGroup.attach): its "
                "backward reduces each gradient to the rank that owns it");
          state->group = group;
          state->sharded = std::make_unique<distributed::ShardedAdamW>(
              group->group, model->causalLM().trainableParameters(), opts, bucketBytes, shardGradients);
          if (model->reducer)
            model->reducer->reduceToOwners(shardGradients ? state->sharded->owners() : std::vector<int>{});
        } else {
          std::lock_guard<std::mutex> lock(model->mutex);
          if (model->reducer) model->reducer->reduceToOwners({});  // every rank keeps every gradient again
          state->adamw = std::make_unique<train::AdamW>(model->causalLM().trainableParameters(), opts);
        }
        return state;
      },
      [constructor](Napi::Env env, std::shared_ptr<OptimizerState>& state) -> Napi::Value {
        auto handle = Napi::External<std::shared_ptr<OptimizerState>>::New(
            env, new std::shared_ptr<OptimizerState>(state),
            [](Napi::Env, std::shared_ptr<OptimizerState>* p) { delete p; });
        return constructor->New({handle});
      });
}

Napi::Value NativeOptimizer::decayParameterNames(const Napi::CallbackInfo& info) {
  const auto& names = state_->fullShard ? state_->fullShard->decayParameterNames()
                      : state_->sharded ? state_->sharded->decayParameterNames()
                                        : state_->adamw->decayParameterNames();
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
  return out;
}

// step(lr) -> Promise<void>; sharded, a collective every rank calls.
Napi::Value NativeOptimizer::step(const Napi::CallbackInfo& info) {
  const double lr = numberArg(info[0], "lr");
  auto state = state_;
  return PromiseWorker<Unit>::start(
      info.Env(),
      [state, lr] {
        if (state->fullShard) {
          std::scoped_lock lock(state->group->mutex, state->model->mutex);
          state->group->get();
          state->fullShard->step(lr);
        } else if (state->sharded) {
          std::scoped_lock lock(state->group->mutex, state->model->mutex);
          state->group->get();
          state->sharded->step(lr);
        } else {
          std::lock_guard<std::mutex> lock(state->model->mutex);
          state->adamw->step(lr);
        }
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

// clipGradNorm(maxNorm) -> Promise<number>: the total gradient norm before clipping; with zeroStage 2 a collective
// (the norm over every rank's shard).
Napi::Value NativeOptimizer::clipGradNorm(const Napi::CallbackInfo& info) {
  const double maxNorm = numberArg(info[0], "maxNorm");
  auto state = state_;
  return PromiseWorker<double>::start(
      info.Env(),
      [state, maxNorm] {
        if (state->fullShard) {
          std::scoped_lock lock(state->group->mutex, state->model->mutex);
          state->group->get();
          return state->fullShard->clipGradNorm(maxNorm);
        }
        if (state->sharded) {
          std::scoped_lock lock(state->group->mutex, state->model->mutex);
          state->group->get();
          return state->sharded->clipGradNorm(maxNorm);
        }
        std::lock_guard<std::mutex> lock(state->model->mutex);
        return train::clipGradNorm(state->model->causalLM().trainableParameters(), maxNorm);
      },
      [](Napi::Env env, double& norm) -> Napi::Value { return Napi::Number::New(env, norm); });
}

// save(path: string | null) -> Promise<void>: the full state as one safetensors file, written where a path is
// given. Sharded, a collective every rank calls (the owners send their parts to all); unsharded, null writes nothing.
Napi::Value NativeOptimizer::save(const Napi::CallbackInfo& info) {
  if (!info[0].IsNull() && !info[0].IsString())
    throw Napi::TypeError::New(info.Env(), "path must be a string, or null to write nothing");
  const std::optional<std::string> path = info[0].IsNull() ? std::nullopt : std::optional(pathArg(info[0]));
  auto state = state_;
  return PromiseWorker<Unit>::start(
      info.Env(),
      [state, path] {
        models::NamedTensors tensors;
        if (state->fullShard) {
          std::scoped_lock lock(state->group->mutex, state->model->mutex);
          state->group->get();
          tensors = state->fullShard->gatherState(path.has_value());
        } else if (state->sharded) {
          std::scoped_lock lock(state->group->mutex, state->model->mutex);
          state->group->get();
          tensors = state->sharded->gatherState(path.has_value());
        } else if (path) {
          std::lock_guard<std::mutex> lock(state->model->mutex);
          tensors = state->adamw->state();
        }
        if (path) io::writeSafetensors(*path, tensors, {{"format", "pt"}, {"optimizer", "adamw"}});
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

// load(path) -> Promise<void>: a full state from any world size; a sharded optimizer keeps its own part.
Napi::Value NativeOptimizer::load(const Napi::CallbackInfo& info) {
  const std::string path = pathArg(info[0]);
  auto state = state_;
  return PromiseWorker<Unit>::start(
      info.Env(),
      [state, path] {
        const io::SafetensorsFile file = io::SafetensorsFile::open(path);
        models::NamedTensors tensors;
        for (const std::string& name : file.names()) tensors.emplace_back(name, file.tensor(name));
        std::lock_guard<std::mutex> lock(state->model->mutex);
        if (state->fullShard)
          state->fullShard->loadState(tensors, path);
        else if (state->sharded)
          state->sharded->loadState(tensors, path);
        else
          state->adamw->loadState(tensors, path);
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

// stateBytes() -> number: bytes of the optimizer state tensors this process holds (fixed once created).
Napi::Value NativeOptimizer::stateBytes(const Napi::CallbackInfo& info) {
  const int64_t bytes = state_->fullShard ? state_->fullShard->stateBytes()
                        : state_->sharded ? state_->sharded->stateBytes()
                                          : state_->adamw->stateBytes();
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

}  // namespace alignkit::binding

namespace alignkit::binding {

// gradientBytes() -> number: bytes of the gradients this process holds now (the trainable parameters' .grad) plus
// the buffers its gradient reducer keeps between steps.
Napi::Value NativeOptimizer::gradientBytes(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(state_->model->mutex);
  if (state_->model->fullShard)
    return Napi::Number::New(info.Env(), static_cast<double>(state_->model->fullShard->gradientBytes()));
  int64_t bytes = state_->model->reducer ? state_->model->reducer->bufferBytes() : 0;
  for (const auto& [name, p] : state_->model->causalLM().trainableParameters())
    if (p.grad().defined()) bytes += static_cast<int64_t>(p.grad().nbytes());
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

// parameterBytes(peak?: boolean) -> number: bytes of the model's parameters this process holds now (zero_stage 3:
// its shards plus the units gathered at the moment, or with peak the most held at once so far; else every
// parameter, trainable or not).
Napi::Value NativeOptimizer::parameterBytes(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(state_->model->mutex);
  const std::shared_ptr<distributed::FullShard>& shard = state_->model->fullShard;
  if (shard && info[0].ToBoolean())
    return Napi::Number::New(info.Env(), static_cast<double>(shard->peakParameterBytes()));
  if (shard) return Napi::Number::New(info.Env(), static_cast<double>(shard->parameterBytes()));
  int64_t bytes = 0;
  for (const auto& [name, p] : state_->model->causalLM().parameters()) bytes += static_cast<int64_t>(p.nbytes());
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

// gatherParameters(keep: boolean) -> Promise<void>: with zeroStage 3 a collective every rank calls: the parameters
// are gathered, and with keep stay whole (for the model's save) until their next use; otherwise nothing.
Napi::Value NativeOptimizer::gatherParameters(const Napi::CallbackInfo& info) {
  const bool keep = info[0].ToBoolean();
  auto state = state_;
  return PromiseWorker<Unit>::start(
      info.Env(),
      [state, keep] {
        if (!state->fullShard) return Unit{};
        std::scoped_lock lock(state->group->mutex, state->model->mutex);
        state->group->get();
        state->model->fullShard->gatherAll(keep);
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

}  // namespace alignkit::binding
