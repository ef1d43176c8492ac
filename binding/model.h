// NativeModel: the JS handle of a loaded causal LM. Every call that touches tensors runs off the JS thread,
// one at a time per model (a mutex), and on a shared_ptr so a collected handle never frees in-flight work.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>

#include "distributed/full_shard.h"
#include "distributed/gradient_reducer.h"
#include "models/pretrained.h"

namespace alignkit::binding {

struct ModelState {
  models::PretrainedModel model;
  std::mutex mutex;
  // Set once the model joins a data-parallel group (NativeProcessGroup.attach): backward passes average gradients.
  std::unique_ptr<distributed::GradientReducer> reducer;
  // The group the model was attached to (NativeProcessGroup.attach), for a step's own collectives (BCO's
  // running reward moments over every rank's rows).
  std::shared_ptr<distributed::ProcessGroup> group;
  // Set instead of the reducer under ZeRO stage 3 (NativeOptimizer.create with zeroStage 3): the parameters are
  // sharded over the group, gathered per unit for forward and backward (distributed/full_shard.h).
  std::shared_ptr<distributed::FullShard> fullShard;

  // The loaded model; throws once dispose() has freed it.
  models::CausalLM& causalLM() const;

  // `step` (a forward and backward under the lock); with a reducer and `syncGradients`, its gradients are averaged
  // over the ranks, else (accumulation micro-steps, DDP's no_sync) they stay local.
  template <typename Step>
  auto trainingStep(bool syncGradients, Step&& step) -> decltype(step()) {
    const bool sync = reducer && syncGradients;
    if (sync) reducer->prepare();
    auto result = step();
    if (sync) reducer->finish();
    // ZeRO-3 reduce-scatters every backward (accumulation too: full gradients are never kept).
    if (fullShard) fullShard->finishBackward();
    return result;
  }
};

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit NativeModel(const Napi::CallbackInfo& info);

  // The state of a NativeModel passed from JS (type-tagged, so another object is a TypeError).
  static std::shared_ptr<ModelState> stateOf(const Napi::Value& value);

 private:
  static Napi::Value load(const Napi::CallbackInfo& info);
  static Napi::Value writeScoreHeadWeights(const Napi::CallbackInfo& info);
  Napi::Value config(const Napi::CallbackInfo& info);
  Napi::Value parameters(const Napi::CallbackInfo& info);
  Napi::Value logits(const Napi::CallbackInfo& info);
  Napi::Value forwardBackward(const Napi::CallbackInfo& info);
  Napi::Value completionLogProbs(const Napi::CallbackInfo& info);
  Napi::Value dpoStep(const Napi::CallbackInfo& info);
  Napi::Value ktoStep(const Napi::CallbackInfo& info);
  Napi::Value bcoStep(const Napi::CallbackInfo& info);
  Napi::Value listwiseStep(const Napi::CallbackInfo& info);
  Napi::Value rewardStep(const Napi::CallbackInfo& info);
  Napi::Value orpoStep(const Napi::CallbackInfo& info);
  Napi::Value cpoStep(const Napi::CallbackInfo& info);
  Napi::Value sftStep(const Napi::CallbackInfo& info);
  Napi::Value gradients(const Napi::CallbackInfo& info);
  Napi::Value zeroGrad(const Napi::CallbackInfo& info);
  Napi::Value mixParameters(const Napi::CallbackInfo& info);
  Napi::Value save(const Napi::CallbackInfo& info);
  Napi::Value attachLora(const Napi::CallbackInfo& info);
  Napi::Value loadAdapter(const Napi::CallbackInfo& info);
  Napi::Value saveAdapter(const Napi::CallbackInfo& info);
  Napi::Value mergeLora(const Napi::CallbackInfo& info);
  Napi::Value disableDropout(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  // For the synchronous calls, which run on the JS thread: a JS error once disposed.
  const models::CausalLM& loaded(Napi::Env env) const;

  // A promise of undefined for `work` on this model, run off the JS thread under the model's lock.
  Napi::Value whileLocked(Napi::Env env, std::function<void(ModelState&)> work);

  std::shared_ptr<ModelState> state_;
};

}  // namespace alignkit::binding
