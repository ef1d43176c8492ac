#include "ops/logits_transform.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "common/error.h"

namespace alignkit::ops {

void checkLogitsTransform(const LogitsTransform& transform, const char* where) {
  if (!std::isfinite(transform.scaling) || transform.scaling == 0.0)
    throw invalidArgument(std::string(where) + ": logits_scaling must be a finite non-zero number, got " +
                          std::to_string(transform.scaling));
  if (!std::isfinite(transform.softcap) || transform.softcap < 0.0)
    throw invalidArgument(std::string(where) + ": final_logit_softcapping must be a finite number >= 0, got " +
                          std::to_string(transform.softcap));
}

at::Tensor applyLogitsTransform(const at::Tensor& logits, const LogitsTransform& transform) {
  if (transform.identity()) return logits;
  // The operations of GraniteForCausalLM / Gemma2ForCausalLM.forward, in their order.
  at::Tensor z = transform.scaling != 1.0 ? logits / transform.scaling : logits;
  if (transform.softcap > 0.0) z = (z / transform.softcap).tanh() * transform.softcap;
  return z;
}

}  // namespace alignkit::ops
