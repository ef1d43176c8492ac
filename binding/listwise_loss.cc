#include "listwise_loss.h"

#include <torch/csrc/autograd/autograd.h>

#include <vector>

#include "common/error.h"
#include "js_options.h"
#include "loss_options.h"
#include "tensor_view.h"
#include "train/listwise_loss.h"

namespace alignkit::binding {

namespace {

Napi::Value listwiseLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "logps must be a Float32Array");
  const int64_t n = info[0].As<Napi::TypedArray>().ElementLength();
  std::vector<Napi::Value> keepAlive;
  const Napi::Object options = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);
  try {
    train::ListwiseLossInputs in;
    in.logps = float32View(info[0], n, "logps", keepAlive).clone().requires_grad_(true);
    in.refLogps = float32View(info[1], n, "refLogps", keepAlive).clone();
    in.groupSizes = groupSizesOf(info[2]);
    in.weights = float32View(options.Get("weights"), static_cast<int64_t>(in.groupSizes.size()), "weights", keepAlive);
    const train::ListwiseLoss loss = listwiseLoss(in, readLossOptions(train::listwiseLossCatalogue(), options));
    const at::Tensor grad = torch::autograd::grad({loss.loss}, {in.logps})[0];
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", loss.loss.item<double>());
    out.Set("rewards", toFloat32Result(env, loss.rewards).Get("data"));
    out.Set("grad", toFloat32Result(env, grad).Get("data"));
    return out;
  } catch (const alignkit::Error& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("code", Napi::String::New(env, e.code()));
    throw error;
  }
}

}  // namespace

void registerListwiseLoss(Napi::Env env, Napi::Object exports) {
  exports.Set("listwiseLoss", Napi::Function::New<listwiseLoss>(env, "listwiseLoss"));
}

}  // namespace alignkit::binding
