// NativeModel's BCO step (native/train/bco_step.h).
#include "js_metric_parts.h"
#include "js_options.h"
#include "loss_options.h"
#include "model.h"
#include "promise_worker.h"
#include "tensor_view.h"
#include "train/bco_step.h"

namespace alignkit::binding {
namespace {

train::RunningMoments runningOf(const Napi::Object& options) {
  train::RunningMoments r;
  const Napi::Value v = options.Get("running");
  if (!v.IsObject()) return r;
  const Napi::Object o = v.As<Napi::Object>();
  r.mean = numberOption(o, "mean", r.mean);
  r.std = numberOption(o, "std", r.std);
  r.var = numberOption(o, "var", r.var);
  r.count = numberOption(o, "count", r.count);
  return r;
}

}  // namespace

// bcoStep(inputIds, attentionMask?, completionMask, batch, seqLen, labels: Uint8Array (batch),
//   refLogps: Float32Array (batch), options: { beta (TRL's name), running?: { mean, std, var, count } (TRL's
//   RunningMoments; default its initial state), update? (default true: fold this batch's rewards into running
//   first, over every rank of the model's process group), rowChunk?, vocabChunk?, reference?, backward? (default
//   true), lossScale? (default 1), syncGradients? (default true), bf16?, gradient_checkpointing? })
//   -> Promise<{ loss, parts: { TRL name: [sum, count] }, num_tokens, rewards, logps: Float32Array (batch),
//   running: { mean, std, var, count } (after the update), delta }>
Napi::Value NativeModel::bcoStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = positiveInt(info[3], "batch"), seqLen = positiveInt(info[4], "seqLen");
  train::BcoBatch b;
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
  const train::BcoLossOptions lossOptions = readLossOptions(train::bcoLossCatalogue(), options);
  const train::RunningMoments running = runningOf(options);
  const bool update = boolOption(options, "update", true);
  const train::CompletionLogProbsOptions lpOptions = logProbsOptions(options);
  const train::StepBackward backward = stepBackward(options);
  const bool syncGradients = boolOption(options, "syncGradients", true) && backward.backward;
  auto state = state_;
  return PromiseWorker<train::BcoStepResult>::start(
      env,
      [state, b, refLogps, running, update, lossOptions, lpOptions, backward, syncGradients] {
        std::lock_guard<std::mutex> lock(state->mutex);
        // Data parallel: the running moments take every rank's rewards (get_global_statistics).
        train::AllReduceSum allReduceSum;
        if (state->group) allReduceSum = [group = state->group](at::Tensor& t) { group->allReduceSum(t); };
        return state->trainingStep(syncGradients, [&] {
          return train::bcoStep(state->causalLM(), b, refLogps.reshape({-1}), running, update, allReduceSum,
                                lossOptions, lpOptions, backward);
        });
      },
      [](Napi::Env env, train::BcoStepResult& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", r.loss);
        setMetricParts(out, r.metrics);
        out.Set("rewards", toFloat32Result(env, r.rewards).Get("data"));
        out.Set("logps", toFloat32Result(env, r.logps).Get("data"));
        Napi::Object running = Napi::Object::New(env);
        running.Set("mean", r.running.mean);
        running.Set("std", r.running.std);
        running.Set("var", r.running.var);
        running.Set("count", r.running.count);
        out.Set("running", running);
        out.Set("delta", r.delta);
        return out;
      },
      keepAlive);
}

}  // namespace alignkit::binding
