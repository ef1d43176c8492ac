// NativeProcessGroup: the JS handle of this process's membership of a data-parallel c10d group
// (native/distributed/process_group.h). Collectives run off the JS thread, one at a time, in the order JS calls
// them; every rank must make the same calls in the same order.
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>

#include "distributed/process_group.h"

namespace alignkit::binding {

struct GroupState {
  std::shared_ptr<distributed::ProcessGroup> group;
  std::mutex mutex;

  // The group; throws once close() has released it.
  distributed::ProcessGroup& get() const;
};

class NativeProcessGroup : public Napi::ObjectWrap<NativeProcessGroup> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit NativeProcessGroup(const Napi::CallbackInfo& info);

  // The state behind a NativeProcessGroup argument; throws a TypeError for anything else.
  static std::shared_ptr<GroupState> stateOf(const Napi::Value& value);

 private:
  static Napi::Value connect(const Napi::CallbackInfo& info);
  Napi::Value attach(const Napi::CallbackInfo& info);
  Napi::Value allReduceSum(const Napi::CallbackInfo& info);
  Napi::Value allGather(const Napi::CallbackInfo& info);
  Napi::Value allGatherStrings(const Napi::CallbackInfo& info);
  Napi::Value gradientSyncStats(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);

  std::shared_ptr<GroupState> state_;
};

}  // namespace alignkit::binding
