// NativeModel's SFT call: one micro-batch through the fused loss (native/train/sft_step.h).
#include "js_metric_parts.h"
#include "js_options.h"
#include "loss_options.h"
#include "model.h"
#include "promise_worker.h"
#include "tensor_view.h"
#include "train/sft_step.h"

namespace alignkit::binding {

// sftStep(inputIds, attentionMask?, positionIds?, labels, batch, seqLen, { numItemsInBatch?, lossScale? (default 1),
//   backward? (default true), syncGradients? (default true: average over a data-parallel group), loss_type?
//   (SFTConfig's), rowChunk?, vocabChunk?, reference?, bf16?, gradient_checkpointing? })
//   -> Promise<{ loss, labelTokens, parts: { entropy, mean_token_accuracy: [sum, count] }, num_tokens }>; the gradient
//   of loss (summed token NLL / numItemsInBatch, default this batch's label tokens) is accumulated unless backward is
//   false.
Napi::Value NativeModel::sftStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t batch = positiveInt(info[4], "batch"), seqLen = positiveInt(info[5], "seqLen");
  train::SftBatch b;
  b.inputIds = viewBatchArray(info[0], batch, seqLen, "inputIds");
  b.attentionMask = viewBatchArray(info[1], batch, seqLen, "attentionMask");
  b.positionIds = viewBatchArray(info[2], batch, seqLen, "positionIds");
  b.labels = viewBatchArray(info[3], batch, seqLen, "labels");
  if (!b.inputIds.defined() || !b.labels.defined()) throw Napi::TypeError::New(env, "inputIds and labels are required");
  std::vector<Napi::Value> keepAlive;
  for (size_t i = 0; i < 4; ++i)
    if (info[i].IsObject()) keepAlive.push_back(info[i]);
  const Napi::Object options = info[6].IsObject() ? info[6].As<Napi::Object>() : Napi::Object::New(env);
  train::SftStepOptions opts;
  opts.chunks = chunkOptions(options);
  opts.reference = boolOption(options, "reference");
  opts.forward = forwardOptions(options);
  opts.backward = boolOption(options, "backward", true);
  opts.numItemsInBatch = positiveIntOption(options, "numItemsInBatch", 0);
  opts.loss = readLossOptions(train::sftLossCatalogue(), options);
  opts.lossScale = numberOption(options, "lossScale", 1.0);
  const bool syncGradients = boolOption(options, "syncGradients", true);
  auto state = state_;
  return PromiseWorker<train::SftStepResult>::start(
      env,
      [state, b, opts, syncGradients] {
        std::lock_guard<std::mutex> lock(state->mutex);
        return state->trainingStep(syncGradients && opts.backward,
                                   [&] { return train::sftStep(state->causalLM(), b, opts); });
      },
      [](Napi::Env env, train::SftStepResult& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("loss", r.loss);
        out.Set("labelTokens", static_cast<double>(r.labelTokens));
        setMetricParts(out, r.metrics);
        return out;
      },
      keepAlive);
}

}  // namespace alignkit::binding
