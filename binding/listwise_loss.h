// The listwise (Plackett–Luce) loss alone, without a model: its value and gradient in the log-probs, for the
// gradient check against PyTorch (test/train/listwise-loss.test.ts).
#pragma once

#include <napi.h>

#include <vector>

namespace alignkit::binding {

// The answers per prompt of a listwise batch: an array of integers >= 2 (a TypeError otherwise).
std::vector<int64_t> groupSizesOf(const Napi::Value& v);

// listwiseLoss(logps: Float32Array, refLogps: Float32Array, groupSizes: number[], options: { beta, weights?:
// Float32Array (one per prompt) }) ->
// { loss, rewards: Float32Array, grad: Float32Array (dloss/dlogps) }.
void registerListwiseLoss(Napi::Env env, Napi::Object exports);

}  // namespace alignkit::binding
