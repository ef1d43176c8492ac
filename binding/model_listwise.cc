// NativeModel's listwise (Plackett–Luce) step (native/train/listwise_step.h).
#include "js_metric_parts.h"
#include "js_options.h"
#include "listwise_loss.h"
#include "loss_options.h"
#include "model.h"
#include "promise_worker.h"
#include "tensor_view.h"
#include "train/listwise_step.h"

namespace alignkit::binding {

std::vector<int64_t> groupSizesOf(const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "groupSizes must be an array of answer counts");
  const Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> sizes;
  for (uint32_t i = 0; i < a.Length(); i++) sizes.push_back(positiveInt(a.Get(i), "groupSizes[i]"));
  return sizes;
}

// listwiseStep(inputIds, attentionMask?, completionMask, rows, seqLen, groupSizes: number[], refLogps: Float32Array
//   (rows), options: { beta, rowChunk?, vocabChunk?, reference?, backward? (default true), lossScale? (default 1),
//   syncGradients? (default true), bf16?, gradient_checkpointing?, weights?: Float32Array (one loss weight per
//   prompt) }) -> Promise<{ loss, parts, num_tokens, rewards,
//   logps: Float32Array (rows) }>; each prompt's answers contiguous, best first.
Napi::Value NativeModel::listwiseStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rows = positiveInt(info[3], "rows"), seqLen = positiveInt(info[4], "seqLen");
  train::ListwiseBatch b;
  b.inputIds = viewBatchArray(info[0], rows, seqLen, "inputIds");
  b.attentionMask = viewBatchArray(info[1], rows, seqLen, "attentionMask");
  b.completionMask = viewBatchArray(info[2], rows, seqLen, "completionMask");
  if (!b.inputIds.defined() || !b.completionMask.defined())
    throw Napi::TypeError::New(env, "inputIds and completionMask are required");
  b.groupSizes = groupSizesOf(info[5]);
  std::vector<Napi::Value> keepAlive;
  for (size_t i : {0, 1, 2})
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  const at::Tensor refLogps = float32View(info[6], rows, "refLogps", keepAlive);
  if (!refLogps.defined()) throw Napi::TypeError::New(env, "refLogps must be a Float32Array of rows values");
  const Napi::Object options = info[7].IsObject() ? info[7].As<Napi::Object>() : Napi::Object::New(env);
  b.weights = float32View(options.Get("weights"), static_cast<int64_t>(b.groupSizes.size()), "weights", keepAlive);
  const train::ListwiseLossOptions lossOptions = readLossOptions(train::listwiseLossCatalogue(), options);
  const train::CompletionLogProbsOptions lpOptions = logProbsOptions(options);
  const train::StepBackward backward = stepBackward(options);
  const bool syncGradients = boolOption(options, "syncGradients", true) && backward.backward;
  auto state = state_;
  return PromiseWorker<train::ListwiseStepResult>::start(
      env,
      [state, b, refLogps, lossOptions, lpOptions, backward, syncGradients] {
        std::lock_guard<std::mutex> lock(state->mutex);
        return state->trainingStep(syncGradients, [&] {
          return train::listwiseStep(state->causalLM(), b, refLogps.reshape({-1}), lossOptions, lpOptions, backward);
        });
      },
      [](Napi::Env env, train::ListwiseStepResult& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", r.loss);
        setMetricParts(out, r.metrics);
        out.Set("rewards", toFloat32Result(env, r.rewards).Get("data"));
        out.Set("logps", toFloat32Result(env, r.logps).Get("data"));
        return out;
      },
      keepAlive);
}

}  // namespace alignkit::binding
