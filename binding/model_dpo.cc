// NativeModel's preference-training calls: completion log-probs and the DPO step (native/train/dpo_step.h).
#include <ATen/core/grad_mode.h>

#include "common/error.h"
#include "js_metric_parts.h"
#include "js_options.h"
#include "loss_options.h"
#include "model.h"
#include "promise_worker.h"
#include "tensor_view.h"
#include "train/completion_logprobs.h"
#include "train/dpo_step.h"

namespace alignkit::binding {

// completionLogProbs(inputIds, attentionMask?, completionMask, batch, seqLen,
//   { backward?, gradOutput?: Float32Array (batch), rowChunk?, vocabChunk?, reference?, pairTail?, bf16?,
//   gradient_checkpointing?, adaptersOff? (LoRA adapters off: the base model) })
//   -> Promise<{ logps, meanLogit, entropy: Float32Array, tokens, correct: Int32Array, tailLogps?: Float32Array }>,
//   each (batch); tailLogps (LD-DPO's part past the pair's shorter completion) with pairTail.
// With backward, sum_b gradOutput[b] * logps[b] (gradOutput defaults to ones) is back-propagated.
Napi::Value NativeModel::completionLogProbs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = positiveInt(info[3], "batch"), seqLen = positiveInt(info[4], "seqLen");
  const at::Tensor inputIds = viewBatchArray(info[0], batch, seqLen, "inputIds");
  const at::Tensor attentionMask = viewBatchArray(info[1], batch, seqLen, "attentionMask");
  const at::Tensor completionMask = viewBatchArray(info[2], batch, seqLen, "completionMask");
  if (!inputIds.defined() || !completionMask.defined())
    throw Napi::TypeError::New(env, "inputIds and completionMask are required");
  const Napi::Object options = info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object::New(env);
  const train::CompletionLogProbsOptions opts = logProbsOptions(options);
  const bool backward = boolOption(options, "backward");
  const bool adaptersOff = boolOption(options, "adaptersOff");
  std::vector<Napi::Value> keepAlive;
  for (size_t i = 0; i < 3; ++i)
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  at::Tensor gradOutput = at::ones({batch}, at::kFloat);
  const Napi::Value g = options.Get("gradOutput");
  if (!g.IsUndefined() && !g.IsNull()) {
    if (!g.IsTypedArray() || g.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        static_cast<int64_t>(g.As<Napi::Float32Array>().ElementLength()) != batch)
      throw Napi::TypeError::New(
          env, "options.gradOutput must be a Float32Array of batch (" + std::to_string(batch) + ") values");
    gradOutput = at::from_blob(g.As<Napi::Float32Array>().Data(), {batch}, at::kFloat);
    keepAlive.push_back(g);
  }
  auto state = state_;
  return PromiseWorker<train::CompletionLogProbs>::start(
      env,
      [state, inputIds, attentionMask, completionMask, gradOutput, opts, backward, adaptersOff] {
        std::lock_guard<std::mutex> lock(state->mutex);
        const models::CausalLM& model = state->causalLM();
        const models::AdaptersOff off(model, adaptersOff);
        if (backward)
          return train::completionLogProbsBackward(model, inputIds, attentionMask, completionMask, gradOutput, opts);
        at::NoGradGuard noGrad;
        return train::completionLogProbs(model, inputIds, attentionMask, completionMask, opts);
      },
      [](Napi::Env env, train::CompletionLogProbs& v) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("logps", toFloat32Result(env, v.logps).Get("data"));
        out.Set("tokens", toTypedResult(env, v.tokens.to(at::kInt)).Get("data"));
        out.Set("meanLogit", toFloat32Result(env, v.meanLogit).Get("data"));
        out.Set("entropy", toFloat32Result(env, v.entropy).Get("data"));
        out.Set("correct", toTypedResult(env, v.correct.to(at::kInt)).Get("data"));
        if (v.tailLogps.defined()) out.Set("tailLogps", toFloat32Result(env, v.tailLogps.detach()).Get("data"));
        return out;
      },
      keepAlive);
}

// dpoStep(inputIds, attentionMask?, completionMask, batch (2B), seqLen, reference: NativeModel |
//   { chosen: Float32Array, rejected: Float32Array } (B each) | 'base' (this model, LoRA adapters off), options:
//   DPOConfig loss fields by TRL name + { rowChunk?, vocabChunk?, reference?, backward? (default true), lossScale?
//   (default 1), syncGradients? (default true: average over a data-parallel group), bf16?, gradient_checkpointing?,
//   adaptersOff? (LoRA adapters off: the base model) }) -> Promise<{ loss, parts: { TRL name: [sum, count] },
//   num_tokens, chosenRewards, rejectedRewards }>; the gradient of lossScale · loss is accumulated into the policy's
//   parameters unless backward is false.
Napi::Value NativeModel::dpoStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = positiveInt(info[3], "batch"), seqLen = positiveInt(info[4], "seqLen");
  if (batch % 2 != 0) throw Napi::TypeError::New(env, "dpoStep: batch must be 2 x pairs (chosen rows, then rejected)");
  train::DpoBatch b;
  b.inputIds = viewBatchArray(info[0], batch, seqLen, "inputIds");
  b.attentionMask = viewBatchArray(info[1], batch, seqLen, "attentionMask");
  b.completionMask = viewBatchArray(info[2], batch, seqLen, "completionMask");
  if (!b.inputIds.defined() || !b.completionMask.defined())
    throw Napi::TypeError::New(env, "inputIds and completionMask are required");
  std::vector<Napi::Value> keepAlive;
  for (size_t i = 0; i < 3; ++i)
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  std::shared_ptr<ModelState> refState;
  at::Tensor refChosen, refRejected;
  const bool adaptersOff = info[5].IsString() && info[5].As<Napi::String>().Utf8Value() == "base";
  if (!info[5].IsObject() && !adaptersOff)
    throw Napi::TypeError::New(env, "reference must be a model, { chosen, rejected } or 'base'");
  const Napi::Object ref = adaptersOff ? Napi::Object::New(env) : info[5].As<Napi::Object>();
  if (adaptersOff) {
    refState = state_;
  } else if (ref.Has("chosen")) {
    refChosen = float32View(ref.Get("chosen"), batch / 2, "reference.chosen", keepAlive);
    refRejected = float32View(ref.Get("rejected"), batch / 2, "reference.rejected", keepAlive);
    if (!refChosen.defined() || !refRejected.defined())
      throw Napi::TypeError::New(env, "reference.chosen and reference.rejected are both required");
  } else {
    refState = stateOf(ref);
    keepAlive.push_back(ref);
  }
  const Napi::Object options = info[6].IsObject() ? info[6].As<Napi::Object>() : Napi::Object::New(env);
  const train::DpoLossOptions lossOptions = readLossOptions(train::dpoLossCatalogue(), options);
  const train::CompletionLogProbsOptions lpOptions = logProbsOptions(options);
  const train::StepBackward backward = stepBackward(options);
  const bool syncGradients = boolOption(options, "syncGradients", true) && backward.backward;
  auto state = state_;
  return PromiseWorker<train::DpoStepResult>::start(
      env,
      [state, refState, adaptersOff, b, refChosen, refRejected, lossOptions, lpOptions, backward, syncGradients] {
        std::unique_lock<std::mutex> lock(state->mutex, std::defer_lock), refLock;
        if (refState && refState != state) {
          refLock = std::unique_lock<std::mutex>(refState->mutex, std::defer_lock);
          std::lock(lock, refLock);
        } else {
          lock.lock();
        }
        train::DpoReference reference;
        if (refState) reference.model = &refState->causalLM();
        reference.adaptersOff = adaptersOff;
        if (adaptersOff && !reference.model->lora())
          throw invalidArgument("dpoStep: reference 'base' needs a policy with LoRA adapters");
        reference.chosenLogps = refChosen, reference.rejectedLogps = refRejected;
        return state->trainingStep(syncGradients, [&] {
          return train::dpoStep(state->causalLM(), b, reference, lossOptions, lpOptions, backward);
        });
      },
      [](Napi::Env env, train::DpoStepResult& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", r.loss);
        setMetricParts(out, r.metrics);
        out.Set("chosenRewards", toFloat32Result(env, r.chosenRewards).Get("data"));
        out.Set("rejectedRewards", toFloat32Result(env, r.rejectedRewards).Get("data"));
        return out;
      },
      keepAlive);
}

}  // namespace alignkit::binding
