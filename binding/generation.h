// NativeGeneration: the JS handle of a batch being generated (native/generate/generation.h). It shares its model's
// state and mutex, so its steps never run while another call on the same model does.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>

#include "generate/generation.h"
#include "model.h"

namespace alignkit::binding {

struct GenerationState {
  std::shared_ptr<ModelState> model;
  std::optional<generate::Generation> generation;  // empty once disposed
};

class NativeGeneration : public Napi::ObjectWrap<NativeGeneration> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit NativeGeneration(const Napi::CallbackInfo& info);

 private:
  static Napi::Value start(const Napi::CallbackInfo& info);
  static Napi::Value warpLogits(const Napi::CallbackInfo& info);
  Napi::Value step(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<GenerationState> state_;
};

}  // namespace alignkit::binding
