// A loss family's options as data: each field of an options struct registered once under its TRL name, with its
// kind, its default (read from a default-constructed struct) and, for an enum, its allowed values. The binding reads
// JS options and exports the catalogue from it (binding/loss_options.h), so no option is named twice, and the
// "unknown value" errors list the registered choices.
#pragma once

#include <charconv>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/error.h"

namespace alignkit::train {

enum class OptionKind { Number, OptionalNumber, Bool, String, OptionalString, StringList, OptionalNumberList };

// One option's value, in the C++ type its kind names.
using OptionValue = std::variant<double, std::optional<double>, bool, std::string, std::optional<std::string>,
                                 std::vector<std::string>, std::optional<std::vector<double>>>;

template <class T>
constexpr OptionKind optionKindOf();
template <>
constexpr OptionKind optionKindOf<double>() {
  return OptionKind::Number;
}
template <>
constexpr OptionKind optionKindOf<std::optional<double>>() {
  return OptionKind::OptionalNumber;
}
template <>
constexpr OptionKind optionKindOf<bool>() {
  return OptionKind::Bool;
}
template <>
constexpr OptionKind optionKindOf<std::string>() {
  return OptionKind::String;
}
template <>
constexpr OptionKind optionKindOf<std::optional<std::string>>() {
  return OptionKind::OptionalString;
}
template <>
constexpr OptionKind optionKindOf<std::vector<std::string>>() {
  return OptionKind::StringList;
}
template <>
constexpr OptionKind optionKindOf<std::optional<std::vector<double>>>() {
  return OptionKind::OptionalNumberList;
}

// The catalogue's name of a kind, as the JS catalogue reports it: number, optional_number, bool, string,
// optional_string, string_list, optional_number_list.
inline const char* optionKindName(OptionKind kind) {
  switch (kind) {
    case OptionKind::Number:
      return "number";
    case OptionKind::OptionalNumber:
      return "optional_number";
    case OptionKind::Bool:
      return "bool";
    case OptionKind::String:
      return "string";
    case OptionKind::OptionalString:
      return "optional_string";
    case OptionKind::StringList:
      return "string_list";
    case OptionKind::OptionalNumberList:
      return "optional_number_list";
  }
  return "unknown";
}

template <class Options>
struct OptionSpec {
  std::string name;  // TRL's
  OptionKind kind;
  std::vector<std::string> choices;  // the values a string (or each of a list's strings) may take; empty: any
  std::function<OptionValue(const Options&)> get;
  std::function<void(Options&, const OptionValue&)> set;
};

// The spec of `Options::*field` under `name`; its kind follows the field's C++ type.
template <class Options, class T>
OptionSpec<Options> option(std::string name, T Options::* field, std::vector<std::string> choices = {}) {
  return {std::move(name), optionKindOf<T>(), std::move(choices),
          [field](const Options& o) { return OptionValue(std::in_place_type<T>, o.*field); },
          [field](Options& o, const OptionValue& v) { o.*field = std::get<T>(v); }};
}

template <class Options>
struct OptionCatalogue {
  std::vector<std::string> lossTypes;  // the loss_type values, in registration order
  std::vector<OptionSpec<Options>> options;
  // Throws invalidArgument naming the keys where the options cannot train (what TRL's trainer __init__ refuses).
  std::function<void(const Options&)> validate;
};

// A number as JS prints it (0.1, not 0.100000), for messages.
inline std::string shownNumber(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// "a, b, c"
inline std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Throws, naming the key and listing its choices, where a string option holds a value it does not register.
template <class Options>
void checkChoices(const OptionCatalogue<Options>& catalogue, const Options& options) {
  for (const OptionSpec<Options>& spec : catalogue.options) {
    if (spec.choices.empty()) continue;
    std::vector<std::string> values;
    const OptionValue v = spec.get(options);
    if (const auto* s = std::get_if<std::string>(&v)) values = {*s};
    if (const auto* s = std::get_if<std::optional<std::string>>(&v); s && *s) values = {**s};
    if (const auto* l = std::get_if<std::vector<std::string>>(&v)) values = *l;
    const bool list = spec.kind == OptionKind::StringList;
    if (list && values.empty())
      throw invalidArgument("'" + spec.name + "' must name at least one of " + joinNames(spec.choices));
    for (const std::string& value : values) {
      bool known = false;
      for (const std::string& c : spec.choices) known = known || c == value;
      if (!known)
        throw invalidArgument("'" + spec.name + "' must be " + (list ? "one or a list of " : "one of ") +
                              joinNames(spec.choices) + ", got '" + value + "'");
    }
  }
}

}  // namespace alignkit::train
