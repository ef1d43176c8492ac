// NativeOptimizer: the JS handle of an AdamW over a NativeModel's parameters, or with zeroStage 1 or 2 a
// ShardedAdamW over a NativeProcessGroup, or with zeroStage 3 a FullShardAdamW over the model's shards. It shares
// the model's state and mutex, so its steps never run while a forward/backward of the same model does; a sharded
// one's collectives also hold the group's mutex.
#pragma once

#include <napi.h>

#include <memory>

#include "distributed/full_shard_adamw.h"
#include "distributed/sharded_adamw.h"
#include "model.h"
#include "process_group.h"
#include "train/adamw.h"

namespace alignkit::binding {

struct OptimizerState {
  std::shared_ptr<ModelState> model;
  // Exactly one of the three: unsharded, ZeRO stage 1 or 2 over `group`, or stage 3 (the model's fullShard).
  std::unique_ptr<train::AdamW> adamw;
  std::unique_ptr<distributed::ShardedAdamW> sharded;
  std::unique_ptr<distributed::FullShardAdamW> fullShard;
  std::shared_ptr<GroupState> group;
};

class NativeOptimizer : public Napi::ObjectWrap<NativeOptimizer> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit NativeOptimizer(const Napi::CallbackInfo& info);

 private:
  static Napi::Value create(const Napi::CallbackInfo& info);
  Napi::Value decayParameterNames(const Napi::CallbackInfo& info);
  Napi::Value step(const Napi::CallbackInfo& info);
  Napi::Value clipGradNorm(const Napi::CallbackInfo& info);
  Napi::Value save(const Napi::CallbackInfo& info);
  Napi::Value load(const Napi::CallbackInfo& info);
  Napi::Value stateBytes(const Napi::CallbackInfo& info);
  Napi::Value gradientBytes(const Napi::CallbackInfo& info);
  Napi::Value parameterBytes(const Napi::CallbackInfo& info);
  Napi::Value gatherParameters(const Napi::CallbackInfo& info);

  std::shared_ptr<OptimizerState> state_;
};

}  // namespace alignkit::binding
