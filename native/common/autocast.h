// torch.autocast(device_type, dtype) for C++: the ops run inside the guard go through ATen's autocast (matmul,
// linear, scaled_dot_product_attention in the low-precision dtype, their float32 inputs cast per op; the other
// ops in the dtype of their inputs), as the HF Trainer's accelerate runs the model's forward with bf16=True.
// Autocast state is thread-local: open the guard on the thread that runs the forward, and close it before
// backward, which PyTorch also runs outside autocast (the autograd engine would otherwise carry the state in).
#pragma once

#include <ATen/autocast_mode.h>

namespace alignkit {

class AutocastGuard {
 public:
  // Like torch.autocast(device, dtype, enabled): enabled false runs the region without autocast.
  AutocastGuard(at::DeviceType device, bool enabled, at::ScalarType dtype = at::kBFloat16)
      : device_(device),
        previousEnabled_(at::autocast::is_autocast_enabled(device)),
        previousDtype_(at::autocast::get_autocast_dtype(device)) {
    at::autocast::set_autocast_enabled(device, enabled);
    at::autocast::set_autocast_dtype(device, dtype);
    at::autocast::increment_nesting();
  }

  // As torch.autocast.__exit__: leaving the outermost region drops the cache of weights cast to the low dtype.
  ~AutocastGuard() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(device_, previousEnabled_);
    at::autocast::set_autocast_dtype(device_, previousDtype_);
  }

  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  at::DeviceType device_;
  bool previousEnabled_;
  at::ScalarType previousDtype_;
};

}  // namespace alignkit
