#include "train/score_head.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <limits>
#include <utility>
#include <vector>

#include "io/checkpoint.h"
#include "models/pretrained.h"

namespace alignkit::train {

void writeScoreHeadWeights(const std::string& sourceDir, const std::string& outDir, int64_t hiddenSize, double std,
                           uint64_t seed) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& [name, tensor] : io::readCheckpointTensors(sourceDir))
    if (name != "lm_head.weight") tensors.emplace_back(name, tensor);
  const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor score = at::empty({1, hiddenSize}, at::kFloat);
  score.normal_(0.0, std, generator);
  tensors.emplace_back("score.weight", score);
  std::filesystem::create_directories(outDir);
  io::writeCheckpointTensors(outDir, tensors, std::numeric_limits<uint64_t>::max());
  models::copyCompanionFiles(sourceDir, outDir);
}

}  // namespace alignkit::train
