// NativeModel's reference-free preference steps, ORPO and CPO (native/train/reference_free_step.h).
#include "js_metric_parts.h"
#include "js_options.h"
#include "loss_options.h"
#include "model.h"
#include "promise_worker.h"
#include "tensor_view.h"
#include "train/reference_free_step.h"

namespace alignkit::binding {
namespace {

// (inputIds, attentionMask?, completionMask, rows, seqLen, options) -> the step on the worker thread, resolving to
// { loss, parts: { TRL name: [sum, count] }, num_tokens }.
template <class LossOptions, class Step>
Napi::Value referenceFreeStep(const Napi::CallbackInfo& info, const std::shared_ptr<ModelState>& state,
                              const train::OptionCatalogue<LossOptions>& catalogue, Step step) {
  Napi::Env env = info.Env();
  const int64_t rows = positiveInt(info[3], "rows"), seqLen = positiveInt(info[4], "seqLen");
  train::ReferenceFreeBatch b;
  b.inputIds = viewBatchArray(info[0], rows, seqLen, "inputIds");
  b.attentionMask = viewBatchArray(info[1], rows, seqLen, "attentionMask");
  b.completionMask = viewBatchArray(info[2], rows, seqLen, "completionMask");
  if (!b.inputIds.defined() || !b.completionMask.defined())
    throw Napi::TypeError::New(env, "inputIds and completionMask are required");
  std::vector<Napi::Value> keepAlive;
  for (size_t i : {0, 1, 2})
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  const Napi::Object options = info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object::New(env);
  const LossOptions lossOptions = readLossOptions(catalogue, options);
  const train::CompletionLogProbsOptions lpOptions = logProbsOptions(options);
  const train::StepBackward backward = stepBackward(options);
  const bool syncGradients = boolOption(options, "syncGradients", true) && backward.backward;
  return PromiseWorker<train::ReferenceFreeStepResult>::start(
      env,
      [state, b, lossOptions, lpOptions, backward, syncGradients, step] {
        std::lock_guard<std::mutex> lock(state->mutex);
        return state->trainingStep(syncGradients,
                                   [&] { return step(state->causalLM(), b, lossOptions, lpOptions, backward); });
      },
      [](Napi::Env env, train::ReferenceFreeStepResult& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", r.loss);
        setMetricParts(out, r.metrics);
        return out;
      },
      keepAlive);
}

}  // namespace

// orpoStep(inputIds, attentionMask?, completionMask, rows, seqLen, options: { beta (TRL name), rowChunk?,
//   vocabChunk?, reference?, backward? (default true), lossScale? (default 1), syncGradients? (default true), bf16?,
//   gradient_checkpointing? }) -> Promise<{ loss, parts, num_tokens }>; rows are [chosen..., rejected...].
Napi::Value NativeModel::orpoStep(const Napi::CallbackInfo& info) {
  return referenceFreeStep(info, state_, train::orpoLossCatalogue(),
                           [](const auto& model, const auto& b, const auto& o, const auto& lp, const auto& bw) {
                             return train::orpoStep(model, b, o, lp, bw);
                           });
}

// cpoStep(...): as orpoStep, with CPOConfig's loss options (beta, label_smoothing, loss_type, cpo_alpha,
// simpo_gamma, alpha).
Napi::Value NativeModel::cpoStep(const Napi::CallbackInfo& info) {
  return referenceFreeStep(info, state_, train::cpoLossCatalogue(),
                           [](const auto& model, const auto& b, const auto& o, const auto& lp, const auto& bw) {
                             return train::cpoStep(model, b, o, lp, bw);
                           });
}

}  // namespace alignkit::binding
