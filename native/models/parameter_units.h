// The hooks a model whose parameters are sharded over ranks (ZeRO-3 / FSDP FULL_SHARD,
// distributed/full_shard.h) runs around each unit of parameters: the root unit (the embedding, the final norm and
// lm_head) and each decoder layer. CausalLM calls them from its layer loops when set; a model without them is
// untouched.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>

namespace alignkit::models {

class ParameterUnits {
 public:
  virtual ~ParameterUnits() = default;
  // Before the embedding: the root unit's parameters are whole (they stay so until its backward is done).
  virtual void beginForward() = 0;
  // Before decoder layer `layer` runs forward: its parameters are whole.
  virtual void beforeLayer(size_t layer) = 0;
  // After it ran: its parameters are freed; when autograd records, `output` (the layer's output) gets a hook that
  // makes them whole again before the layer's backward (its recomputation).
  virtual void afterLayer(size_t layer, const at::Tensor& output) = 0;
};

}  // namespace alignkit::models
