// Typed arrays <-> tensors without copies: inputs are viewed in place, outputs hand the tensor's own
// memory to an external ArrayBuffer that frees the tensor when collected.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <vector>

namespace alignkit::binding {

// Views an Int32Array or Uint8Array holding batch * seqLen values as a (batch, seqLen) tensor.
// Undefined/null gives an undefined tensor. The caller keeps the typed array alive while the view is used.
at::Tensor viewBatchArray(const Napi::Value& value, int64_t batch, int64_t seqLen, const char* name);

// { data: Float32Array, shape: number[] } sharing the memory of `tensor` (converted to CPU float32 first).
Napi::Object toFloat32Result(Napi::Env env, const at::Tensor& tensor);

// { data, shape } with the typed array matching the dtype: Float32Array for F32/F16/BF16 (widened),
// Float64Array, BigInt64Array, Int32Array, Int16Array, Int8Array, Uint8Array (U8 and BOOL).
Napi::Object toTypedResult(Napi::Env env, const at::Tensor& tensor);

}  // namespace alignkit::binding
