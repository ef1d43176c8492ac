// Loss options from JS, read through their family's catalogue (native/train/option_catalogue.h): one table-driven
// reader for every option of every family, so no option is named in the binding. Also the addon's sync functions
// that export the catalogues and validate an options object (registerLossOptions).
#pragma once

#include <napi.h>

#include "common/error.h"
#include "train/cpo_loss.h"
#include "train/dpo_loss.h"
#include "train/kto_loss.h"
#include "train/orpo_loss.h"
#include "train/sft_loss.h"

namespace alignkit::binding {

// The value of `spec`'s kind in `v`, or a TypeError naming the key and what was expected.
train::OptionValue optionValue(const Napi::Value& v, const std::string& name, train::OptionKind kind);

// `catalogue`'s options read from `o` by their TRL names; an absent (undefined or null) key keeps its default.
template <class Options>
Options readLossOptions(const train::OptionCatalogue<Options>& catalogue, const Napi::Object& o) {
  Options options;
  for (const train::OptionSpec<Options>& spec : catalogue.options) {
    const Napi::Value v = o.Get(spec.name);
    if (!v.IsUndefined() && !v.IsNull()) spec.set(options, optionValue(v, spec.name, spec.kind));
  }
  return options;
}

// dpoLossCatalogue(), ktoLossCatalogue(), sftLossCatalogue(), orpoLossCatalogue(), cpoLossCatalogue() -> { lossTypes,
// options: [{ name, type, default, choices? }] }; validateDpoLossOptions(obj), ... (one per family) -> undefined,
// or throw an Error whose code is ERR_INVALID_ARG and whose message names the keys.
void registerLossOptions(Napi::Env env, Napi::Object exports);

}  // namespace alignkit::binding
