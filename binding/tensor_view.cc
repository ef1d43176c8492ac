#include "tensor_view.h"

#include <string>

namespace alignkit::binding {

at::Tensor viewBatchArray(const Napi::Value& value, int64_t batch, int64_t seqLen, const char* name) {
  Napi::Env env = value.Env();
  if (value.IsUndefined() || value.IsNull()) return {};
  if (!value.IsTypedArray())
    throw Napi::TypeError::New(env, std::string(name) + " must be an Int32Array or Uint8Array");
  const Napi::TypedArray array = value.As<Napi::TypedArray>();
  at::ScalarType dtype;
  switch (array.TypedArrayType()) {
    case napi_int32_array:
      dtype = at::kInt;
      break;
    case napi_uint8_array:
      dtype = at::kByte;
      break;
    default:
      throw Napi::TypeError::New(env, std::string(name) + " must be an Int32Array or Uint8Array");
  }
  if (static_cast<int64_t>(array.ElementLength()) != batch * seqLen)
    throw Napi::RangeError::New(env, std::string(name) + " has " + std::to_string(array.ElementLength()) +
                                         " elements, expected batch * seqLen = " + std::to_string(batch * seqLen));
  auto* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return at::from_blob(data, {batch, seqLen}, at::TensorOptions().dtype(dtype));
}

namespace {

// Hands the memory of a CPU contiguous tensor to an external ArrayBuffer that frees it when collected.
Napi::ArrayBuffer shareMemory(Napi::Env env, const at::Tensor& contiguousCpu) {
  auto* owned = new at::Tensor(contiguousCpu);
  const int64_t bytes = static_cast<int64_t>(owned->nbytes());
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  return Napi::ArrayBuffer::New(
      env, owned->data_ptr(), owned->nbytes(),
      [](Napi::Env env, void*, at::Tensor* t) {
        Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(t->nbytes()));
        delete t;
      },
      owned);
}

Napi::Object withShape(Napi::Env env, Napi::Value data, const at::Tensor& tensor) {
  Napi::Array shape = Napi::Array::New(env, tensor.dim());
  for (int64_t i = 0; i < tensor.dim(); ++i)
    shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, tensor.size(i)));
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", data);
  result.Set("shape", shape);
  return result;
}

}  // namespace

Napi::Object toFloat32Result(Napi::Env env, const at::Tensor& tensor) {
  const at::Tensor t = tensor.detach().to(at::kCPU, at::kFloat).contiguous();
  return withShape(env, Napi::Float32Array::New(env, t.numel(), shareMemory(env, t), 0), t);
}

Napi::Object toTypedResult(Napi::Env env, const at::Tensor& tensor) {
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  const size_t n = t.numel();
  switch (t.scalar_type()) {
    case at::kFloat:
    case at::kHalf:
    case at::kBFloat16:
      return toFloat32Result(env, t);
    case at::kDouble:
      return withShape(env, Napi::Float64Array::New(env, n, shareMemory(env, t), 0), t);
    case at::kLong:
      return withShape(env, Napi::BigInt64Array::New(env, n, shareMemory(env, t), 0), t);
    case at::kInt:
      return withShape(env, Napi::Int32Array::New(env, n, shareMemory(env, t), 0), t);
    case at::kShort:
      return withShape(env, Napi::Int16Array::New(env, n, shareMemory(env, t), 0), t);
    case at::kChar:
      return withShape(env, Napi::Int8Array::New(env, n, shareMemory(env, t), 0), t);
    case at::kByte:
    case at::kBool:
      return withShape(env, Napi::Uint8Array::New(env, n, shareMemory(env, t), 0), t);
    default:
      throw Napi::TypeError::New(env, std::string("no typed array for dtype ") + c10::toString(t.scalar_type()));
  }
}

}  // namespace alignkit::binding
