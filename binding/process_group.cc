#include "process_group.h"

#include <algorithm>

#include "common/error.h"
#include "js_options.h"
#include "model.h"
#include "promise_worker.h"

namespace alignkit::binding {
namespace {

struct Unit {};

constexpr napi_type_tag kGroupTag = {0x3f2a8c1d5e7b4a90ULL, 0xb16d2e4f8a0c7d35ULL};

int intOption(const Napi::Object& options, const char* key) {
  const Napi::Value v = options.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string("options.") + key + " must be a number");
  return v.As<Napi::Number>().Int32Value();
}

}  // namespace

distributed::ProcessGroup& GroupState::get() const {
  if (!group) throw invalidArgument("this process group was closed");
  return *group;
}

Napi::Function NativeProcessGroup::define(Napi::Env env) {
  return DefineClass(
      env, "NativeProcessGroup",
      {StaticMethod<&NativeProcessGroup::connect>("connect"), InstanceMethod<&NativeProcessGroup::attach>("attach"),
       InstanceMethod<&NativeProcessGroup::allReduceSum>("allReduceSum"),
       InstanceMethod<&NativeProcessGroup::allGather>("allGather"),
       InstanceMethod<&NativeProcessGroup::allGatherStrings>("allGatherStrings"),
       InstanceMethod<&NativeProcessGroup::gradientSyncStats>("gradientSyncStats"),
       InstanceMethod<&NativeProcessGroup::close>("close")});
}

// Only `connect` constructs instances, passing the state as an External.
NativeProcessGroup::NativeProcessGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeProcessGroup>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "NativeProcessGroup is created by NativeProcessGroup.connect(options)");
  state_ = *info[0].As<Napi::External<std::shared_ptr<GroupState>>>().Data();
  info.This().As<Napi::Object>().TypeTag(&kGroupTag);
}

std::shared_ptr<GroupState> NativeProcessGroup::stateOf(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kGroupTag))
    throw Napi::TypeError::New(value.Env(), "group must be a NativeProcessGroup");
  return Unwrap(value.As<Napi::Object>())->state_;
}

// connect({ rank, worldSize, masterAddr, masterPort, timeoutMs, cuda?, localRank? }) -> Promise<NativeProcessGroup>:
// the rendezvous (rank 0 hosts the TCPStore) and the Gloo or NCCL group; waits for every rank up to timeoutMs.
Napi::Value NativeProcessGroup::connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  const Napi::Object o = info[0].As<Napi::Object>();
  distributed::GroupOptions options;
  options.rank = intOption(o, "rank");
  options.worldSize = intOption(o, "worldSize");
  options.masterAddr = stringOption(o, "masterAddr", options.masterAddr);
  options.masterPort = intOption(o, "masterPort");
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(numberOption(o, "timeoutMs", 1800e3)));
  options.cuda = boolOption(o, "cuda");
  options.localRank = static_cast<int>(numberOption(o, "localRank", 0));
  auto constructor = std::make_shared<Napi::FunctionReference>(Napi::Persistent(info.This().As<Napi::Function>()));
  return PromiseWorker<std::shared_ptr<GroupState>>::start(
      env,
      [options] {
        auto state = std::make_shared<GroupState>();
        state->group = std::make_shared<distributed::ProcessGroup>(options);
        return state;
      },
      [constructor](Napi::Env env, std::shared_ptr<GroupState>& state) -> Napi::Value {
        auto handle = Napi::External<std::shared_ptr<GroupState>>::New(
            env, new std::shared_ptr<GroupState>(state), [](Napi::Env, std::shared_ptr<GroupState>* p) { delete p; });
        Napi::Object group = constructor->New({handle});
        group.Set("rank", state->group->rank());
        group.Set("worldSize", state->group->worldSize());
        return group;
      });
}

// attach(model, { bucketCapMb?, firstBucketCapMb? }) -> Promise<void>: as DistributedDataParallel(model) does,
// rank 0's parameters (LoRA adapters included) are broadcast to every rank, and from then on the model's training
// steps average their gradients over the group (syncGradients).
Napi::Value NativeProcessGroup::attach(const Napi::CallbackInfo& info) {
  std::shared_ptr<ModelState> model = NativeModel::stateOf(info[0]);
  const Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(info.Env());
  distributed::BucketOptions buckets;
  buckets.bucketBytes = static_cast<int64_t>(numberOption(o, "bucketCapMb", 25) * (1 << 20));
  buckets.firstBucketBytes = static_cast<int64_t>(numberOption(o, "firstBucketCapMb", 1) * (1 << 20));
  auto state = state_;
  return PromiseWorker<Unit>::start(
      info.Env(),
      [state, model, buckets] {
        std::scoped_lock lock(state->mutex, model->mutex);
        if (model->reducer) throw invalidArgument("attach: this model is already in a process group");
        const models::CausalLM& lm = model->causalLM();
        std::vector<at::Tensor> tensors;
        for (const auto& [name, p] : lm.parameters()) tensors.push_back(p);
        for (const auto& [name, p] : lm.adapterParameters()) tensors.push_back(p);
        state->get().broadcast(tensors, 0);
        model->reducer =
            std::make_unique<distributed::GradientReducer>(state->group, lm.trainableParameters(), buckets);
        model->group = state->group;
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

// allReduceSum(values: Float64Array) -> Promise<Float64Array>: the element-wise sum over the ranks.
Napi::Value NativeProcessGroup::allReduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "values must be a Float64Array");
  Napi::Float64Array values = info[0].As<Napi::Float64Array>();
  at::Tensor tensor = at::from_blob(values.Data(), {static_cast<int64_t>(values.ElementLength())}, at::kDouble).clone();
  auto state = state_;
  return PromiseWorker<at::Tensor>::start(
      env,
      [state, tensor] {
        std::lock_guard<std::mutex> lock(state->mutex);
        state->get().allReduceSum(tensor);
        return tensor;
      },
      [](Napi::Env env, at::Tensor& sum) -> Napi::Value {
        Napi::Float64Array out = Napi::Float64Array::New(env, sum.numel());
        std::copy_n(sum.data_ptr<double>(), sum.numel(), out.Data());
        return out;
      });
}

// allGather(values: Float32Array) -> Promise<Float32Array>: every rank's values (the same length on each), in rank
// order.
Napi::Value NativeProcessGroup::allGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "values must be a Float32Array");
  Napi::Float32Array values = info[0].As<Napi::Float32Array>();
  const at::Tensor tensor =
      at::from_blob(values.Data(), {static_cast<int64_t>(values.ElementLength())}, at::kFloat).clone();
  auto state = state_;
  return PromiseWorker<at::Tensor>::start(
      env,
      [state, tensor] {
        std::lock_guard<std::mutex> lock(state->mutex);
        return state->get().allGather(tensor).contiguous();
      },
      [](Napi::Env env, at::Tensor& all) -> Napi::Value {
        Napi::Float32Array out = Napi::Float32Array::New(env, all.numel());
        std::copy_n(all.data_ptr<float>(), all.numel(), out.Data());
        return out;
      });
}

// allGatherStrings(value: string) -> Promise<string[]>: every rank's string, in rank order (through the store).
Napi::Value NativeProcessGroup::allGatherStrings(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "value must be a string");
  const std::string value = info[0].As<Napi::String>().Utf8Value();
  auto state = state_;
  return PromiseWorker<std::vector<std::string>>::start(
      info.Env(),
      [state, value] {
        std::lock_guard<std::mutex> lock(state->mutex);
        return state->get().allGatherStrings(value);
      },
      [](Napi::Env env, std::vector<std::string>& values) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, values.size());
        for (size_t i = 0; i < values.size(); ++i) out.Set(static_cast<uint32_t>(i), values[i]);
        return out;
      });
}

// gradientSyncStats() -> { syncs, allReduces, waitSeconds }: what averaging gradients has cost this rank so far.
Napi::Value NativeProcessGroup::gradientSyncStats(const Napi::CallbackInfo& info) {
  if (!state_->group) throw Napi::Error::New(info.Env(), "this process group was closed");
  const distributed::GradientSyncStats stats = state_->group->gradientSyncStats();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("syncs", static_cast<double>(stats.syncs));
  out.Set("allReduces", static_cast<double>(stats.allReduces));
  out.Set("waitSeconds", stats.waitSeconds);
  return out;
}

// close(finished: boolean) -> Promise<void>: leaves the group (after every rank's last collective); after a finished
// run rank 0 waits for the others to leave first (ProcessGroup::leave).
Napi::Value NativeProcessGroup::close(const Napi::CallbackInfo& info) {
  const bool finished = info[0].ToBoolean();
  auto state = state_;
  return PromiseWorker<Unit>::start(
      info.Env(),
      [state, finished] {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (state->group) state->group->leave(finished);
        state->group.reset();
        return Unit{};
      },
      [](Napi::Env env, Unit&) -> Napi::Value { return env.Undefined(); });
}

}  // namespace alignkit::binding
