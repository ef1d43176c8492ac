#include "train/sft_loss.h"

#include <string>
#include <vector>

namespace alignkit::train {
namespace {

struct LossType {
  const char* name;   // TRL's loss_type
  bool tokenScaling;  // each token's -logp weighted by its detached probability
  // The loss reads the model's own logits (its forward divides them by Granite's logits_scaling); chunked_nll
  // projects the hidden states with lm_head itself (trl's _chunked_cross_entropy_loss) and applies only
  // final_logit_softcapping (and Cohere's logit_scale, no family of ours).
  bool logitsScaling;
};

// The registry: TRL's SFT loss_type names, in TRL's order (SFTTrainer.__init__'s loss_type branches).
const std::vector<LossType>& lossTypes() {
  static const std::vector<LossType> types = {
      {"nll", false, true},
      {"dft", true, true},
      {"chunked_nll", false, false},
  };
  return types;
}

// The registered type of options.loss_type (unset: chunked_nll, as SFTConfig resolves it).
const LossType& lossType(const SftLossOptions& options) {
  validateSftLossOptions(options);
  const std::string name = options.loss_type.value_or("chunked_nll");
  for (const LossType& t : lossTypes())
    if (name == t.name) return t;
  return lossTypes().back();  // not reached: validated above
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

bool sftTokenScaling(const SftLossOptions& options) { return lossType(options).tokenScaling; }

bool sftLogitsScaling(const SftLossOptions& options) { return lossType(options).logitsScaling; }

}  // namespace alignkit::train
