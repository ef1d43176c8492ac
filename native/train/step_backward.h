// How a preference step (DPO, KTO) back-propagates its micro-batch.
#pragma once

namespace alignkit::train {

// The gradient of lossScale · loss is accumulated (the Trainer divides each micro-batch's loss by the number of
// micro-batches in the optimizer step); with backward false the policy runs without autograd (evaluation).
struct StepBackward {
  bool backward = true;
  double lossScale = 1.0;
};

}  // namespace alignkit::train
