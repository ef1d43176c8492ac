#include "train/sft_loss.h"

#include <vector>

namespace alignkit::train {
namespace {

struct LossType {
  const char* name;   // TRL's loss_type
  bool tokenScaling;  // each token's -logp weighted by its detached probability
};

// The registry: TRL's SFT loss_type names, in TRL's order (SFTTrainer.__init__'s loss_type branches).
const std::vector<LossType>& lossTypes() {
  static const std::vector<LossType> types = {
      {"nll", false},
      {"dft", true},
      {"chunked_nll", false},
  };
  return types;
}

}  // namespace

const OptionCatalogue<SftLossOptions>& sftLossCatalogue() {
  static const OptionCatalogue<SftLossOptions> catalogue = [] {
    OptionCatalogue<SftLossOptions> c;
    for (const LossType& t : lossTypes()) c.lossTypes.push_back(t.name);
    c.options = {option("loss_type", &SftLossOptions::loss_type, c.lossTypes)};
    c.validate = validateSftLossOptions;
    return c;
  }();
  return catalogue;
}

void validateSftLossOptions(const SftLossOptions& options) { checkChoices(sftLossCatalogue(), options); }

bool sftTokenScaling(const SftLossOptions& options) {
  validateSftLossOptions(options);
  if (!options.loss_type) return false;
  for (const LossType& t : lossTypes())
    if (*options.loss_type == t.name) return t.tokenScaling;
  return false;
}

}  // namespace alignkit::train
