// NativeModel's KTO step (native/train/kto_step.h).
#include "js_metric_parts.h"
#include "js_options.h"
#include "loss_options.h"
#include "model.h"
#include "promise_worker.h"
#include "tensor_view.h"
#include "train/kto_step.h"

namespace alignkit::binding {

// ktoStep(inputIds, attentionMask?, completionMask, batch, seqLen, labels: Uint8Array (batch),
//   refLogps: Float32Array (batch), options: { kl, beta, loss_type, desirable_weight, undesirable_weight (TRL
//   names), rowChunk?, vocabChunk?, reference?, backward? (default true), lossScale? (default 1), syncGradients?
//   (default true), bf16?, gradient_checkpointing? }) -> Promise<{ loss, parts: { TRL name: [sum, count] } (kl:
//   options.kl), num_tokens, rewards, logps: Float32Array (batch) }>; the gradient of lossScale · loss is accumulated
//   into the policy's parameters unless backward is false.
Napi::Value NativeModel::ktoStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = positiveInt(info[3], "batch"), seqLen = positiveInt(info[4], "seqLen");
  train::KtoBatch b;
  b.inputIds = viewBatchArray(info[0], batch, seqLen, "inputIds");
  b.attentionMask = viewBatchArray(info[1], batch, seqLen, "attentionMask");
  b.completionMask = viewBatchArray(info[2], batch, seqLen, "completionMask");
  b.labels = viewBatchArray(info[5], batch, 1, "labels");
  if (!b.inputIds.defined() || !b.completionMask.defined() || !b.labels.defined())
    throw Napi::TypeError::New(env, "inputIds, completionMask and labels are required");
  std::vector<Napi::Value> keepAlive;
  for (size_t i : {0, 1, 2, 5})
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  const at::Tensor refLogps = float32View(info[6], batch, "refLogps", keepAlive);
  if (!refLogps.defined()) throw Napi::TypeError::New(env, "refLogps must be a Float32Array of batch values");
  const Napi::Object options = info[7].IsObject() ? info[7].As<Napi::Object>() : Napi::Object::New(env);
  const train::KtoLossOptions lossOptions = readLossOptions(train::ktoLossCatalogue(), options);
  const double kl = numberOption(options, "kl", 0.0);
  const train::CompletionLogProbsOptions lpOptions = logProbsOptions(options);
  const train::StepBackward backward = stepBackward(options);
  const bool syncGradients = boolOption(options, "syncGradients", true) && backward.backward;
  auto state = state_;
  return PromiseWorker<train::KtoStepResult>::start(
      env,
      [state, b, refLogps, kl, lossOptions, lpOptions, backward, syncGradients] {
        std::lock_guard<std::mutex> lock(state->mutex);
        return state->trainingStep(syncGradients, [&] {
          return train::ktoStep(state->causalLM(), b, refLogps.reshape({-1}), kl, lossOptions, lpOptions, backward);
        });
      },
      [](Napi::Env env, train::KtoStepResult& r) -> Napi::Value {
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
