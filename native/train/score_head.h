// A reward model's fresh score head, as RewardTrainer gets it from AutoModelForSequenceClassification
// .from_pretrained(causal_lm, num_labels=1): the checkpoint's weights without lm_head.weight, and score.weight
// (1, hidden) drawn by the model's _init_weights, normal(0, initializer_range), after TRL's set_seed(seed).
#pragma once

#include <cstdint>
#include <string>

namespace alignkit::train {

// Writes into `outDir` the weights of the causal LM folder `sourceDir` with score.weight (1, hiddenSize) ~
// N(0, std²) drawn from a CPU generator seeded with `seed` (torch.manual_seed(seed)'s draws) in float32 and no
// lm_head.weight, and the source's tokenizer and generation files. config.json is the caller's (it names the
// architecture and labels).
void writeScoreHeadWeights(const std::string& sourceDir, const std::string& outDir, int64_t hiddenSize, double std,
                           uint64_t seed);

}  // namespace alignkit::train
