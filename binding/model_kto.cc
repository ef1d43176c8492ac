// NativeModel's KTO step (native/train/kto_step.h).
#include "js_options.h"
#include "model.h"
#include "promise_worker.h"
#include "tensor_view.h"
#include "train/kto_step.h"

namespace alignkit::binding {

// ktoStep(inputIds, attentionMask?, completionMask, batch, seqLen, labels: Uint8Array (batch),
//   refLogps: Float32Array (batch), options: { kl, beta, loss_type, desirable_weight, undesirable_weight (TRL
//   names), rowChunk?, vocabChunk?, reference?, backward? (default true), lossScale? (default 1), syncGradients? (default true), bf16?,
//   gradient_checkpointing? }) -> Promise<{ loss, rewards, logps, meanLogit, entropy: Float32Array,
//   tokens: Int32Array }>, each (batch); the gradient of lossScale · loss is accumulated into the policy's
//   parameters unless backward is false.
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
  train::KtoLossOptions lossOptions;
  lossOptions.beta = numberOption(options, "beta", lossOptions.beta);
  lossOptions.lossType = stringOption(options, "loss_type", lossOptions.lossType);
  lossOptions.desirableWeight = numberOption(options, "desirable_weight", lossOptions.desirableWeight);
  lossOptions.undesirableWeight = numberOption(options, "undesirable_weight", lossOptions.undesirableWeight);
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
        out.Set("rewards", toFloat32Result(env, r.rewards).Get("data"));
        out.Set("logps", toFloat32Result(env, r.lp.logps).Get("data"));
        out.Set("tokens", toTypedResult(env, r.lp.tokens.to(at::kInt)).Get("data"));
        out.Set("meanLogit", toFloat32Result(env, r.lp.meanLogit).Get("data"));
        out.Set("entropy", toFloat32Result(env, r.lp.entropy).Get("data"));
        return out;
      },
      keepAlive);
}

}  // namespace alignkit::binding
