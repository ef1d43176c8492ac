// readSafetensors(path): a whole safetensors file as typed arrays, through the same validating reader
// that loads checkpoints.
#pragma once

#include <napi.h>

namespace alignkit::binding {

Napi::Value readSafetensors(const Napi::CallbackInfo& info);

}  // namespace alignkit::binding
