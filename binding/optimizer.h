// NativeOptimizer: the JS handle of an AdamW over a NativeModel's parameters. It shares the model's state and
// mutex, so its steps never run while a forward/backward of the same model does.
#pragma once

#include <napi.h>

#include <memory>

#include "model.h"
#include "train/adamw.h"

namespace alignkit::binding {

struct OptimizerState {
  std::shared_ptr<ModelState> model;
  std::unique_ptr<train::AdamW> adamw;
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

  std::shared_ptr<OptimizerState> state_;
};

}  // namespace alignkit::binding
