#include "loss_options.h"

#include "train/bco_loss.h"

namespace alignkit::binding {
namespace {

using train::OptionKind;
using train::OptionValue;

Napi::Array stringArray(Napi::Env env, const std::vector<std::string>& values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (uint32_t i = 0; i < values.size(); ++i) out.Set(i, values[i]);
  return out;
}

Napi::Value jsValue(Napi::Env env, const OptionValue& value) {
  return std::visit(
      [env](const auto& v) -> Napi::Value {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>) return Napi::Number::New(env, v);
        if constexpr (std::is_same_v<T, bool>) return Napi::Boolean::New(env, v);
        if constexpr (std::is_same_v<T, std::string>) return Napi::String::New(env, v);
        if constexpr (std::is_same_v<T, std::vector<std::string>>) return stringArray(env, v);
        if constexpr (std::is_same_v<T, std::optional<double>>) return v ? Napi::Number::New(env, *v) : env.Null();
        if constexpr (std::is_same_v<T, std::optional<std::string>>) return v ? Napi::String::New(env, *v) : env.Null();
        if constexpr (std::is_same_v<T, std::optional<std::vector<double>>>) {
          if (!v) return env.Null();
          Napi::Array out = Napi::Array::New(env, v->size());
          for (uint32_t i = 0; i < v->size(); ++i) out.Set(i, (*v)[i]);
          return out;
        }
      },
      value);
}

template <class Options>
Napi::Value catalogueObject(Napi::Env env, const train::OptionCatalogue<Options>& catalogue) {
  const Options defaults;
  Napi::Array options = Napi::Array::New(env, catalogue.options.size());
  for (uint32_t i = 0; i < catalogue.options.size(); ++i) {
    const train::OptionSpec<Options>& spec = catalogue.options[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", spec.name);
    o.Set("type", train::optionKindName(spec.kind));
    o.Set("default", jsValue(env, spec.get(defaults)));
    if (!spec.choices.empty()) o.Set("choices", stringArray(env, spec.choices));
    options.Set(i, o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("lossTypes", stringArray(env, catalogue.lossTypes));
  out.Set("options", options);
  return out;
}

// Reads `info[0]` through the catalogue and runs its validate; a refusal becomes a JS Error with its code.
template <class Options>
Napi::Value validateObject(const Napi::CallbackInfo& info, const train::OptionCatalogue<Options>& catalogue) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  const Options options = readLossOptions(catalogue, info[0].As<Napi::Object>());
  try {
    catalogue.validate(options);
  } catch (const alignkit::Error& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("code", Napi::String::New(env, e.code()));
    throw error;
  }
  return env.Undefined();
}

}  // namespace

OptionValue optionValue(const Napi::Value& v, const std::string& name, OptionKind kind) {
  Napi::Env env = v.Env();
  const auto wrong = [&](const char* expected) {
    return Napi::TypeError::New(env, "'" + name + "' must be " + expected);
  };
  switch (kind) {
    case OptionKind::Number:
    case OptionKind::OptionalNumber: {
      if (!v.IsNumber()) throw wrong("a number");
      const double n = v.As<Napi::Number>().DoubleValue();
      return kind == OptionKind::Number ? OptionValue(n) : OptionValue(std::optional<double>(n));
    }
    case OptionKind::Bool:
      if (!v.IsBoolean()) throw wrong("true or false");
      return OptionValue(v.As<Napi::Boolean>().Value());
    case OptionKind::String:
    case OptionKind::OptionalString: {
      if (!v.IsString()) throw wrong("a string");
      std::string s = v.As<Napi::String>().Utf8Value();
      return kind == OptionKind::String ? OptionValue(std::move(s)) : OptionValue(std::optional<std::string>(s));
    }
    case OptionKind::StringList: {
      // One name is a list of one, as TRL wraps a single loss_type.
      if (v.IsString()) return OptionValue(std::vector<std::string>{v.As<Napi::String>().Utf8Value()});
      if (!v.IsArray()) throw wrong("a string or a list of strings");
      const Napi::Array a = v.As<Napi::Array>();
      std::vector<std::string> out;
      for (uint32_t i = 0; i < a.Length(); ++i) {
        if (!a.Get(i).IsString()) throw wrong("a string or a list of strings");
        out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
      }
      return OptionValue(std::move(out));
    }
    case OptionKind::OptionalNumberList: {
      if (!v.IsArray()) throw wrong("a list of numbers");
      const Napi::Array a = v.As<Napi::Array>();
      std::vector<double> out;
      for (uint32_t i = 0; i < a.Length(); ++i) {
        if (!a.Get(i).IsNumber()) throw wrong("a list of numbers");
        out.push_back(a.Get(i).As<Napi::Number>().DoubleValue());
      }
      return OptionValue(std::optional<std::vector<double>>(std::move(out)));
    }
  }
  throw wrong("a known kind");
}

void registerLossOptions(Napi::Env env, Napi::Object exports) {
  const auto def = [&](const char* name, Napi::Value (*fn)(const Napi::CallbackInfo&)) {
    exports.Set(name, Napi::Function::New(env, fn, name));
  };
  def("dpoLossCatalogue",
      [](const Napi::CallbackInfo& info) { return catalogueObject(info.Env(), train::dpoLossCatalogue()); });
  def("ktoLossCatalogue",
      [](const Napi::CallbackInfo& info) { return catalogueObject(info.Env(), train::ktoLossCatalogue()); });
  def("sftLossCatalogue",
      [](const Napi::CallbackInfo& info) { return catalogueObject(info.Env(), train::sftLossCatalogue()); });
  def("validateDpoLossOptions",
      [](const Napi::CallbackInfo& info) { return validateObject(info, train::dpoLossCatalogue()); });
  def("validateKtoLossOptions",
      [](const Napi::CallbackInfo& info) { return validateObject(info, train::ktoLossCatalogue()); });
  def("validateSftLossOptions",
      [](const Napi::CallbackInfo& info) { return validateObject(info, train::sftLossCatalogue()); });
  def("orpoLossCatalogue",
      [](const Napi::CallbackInfo& info) { return catalogueObject(info.Env(), train::orpoLossCatalogue()); });
  def("cpoLossCatalogue",
      [](const Napi::CallbackInfo& info) { return catalogueObject(info.Env(), train::cpoLossCatalogue()); });
  def("validateOrpoLossOptions",
      [](const Napi::CallbackInfo& info) { return validateObject(info, train::orpoLossCatalogue()); });
  def("validateCpoLossOptions",
      [](const Napi::CallbackInfo& info) { return validateObject(info, train::cpoLossCatalogue()); });
  def("bcoLossCatalogue",
      [](const Napi::CallbackInfo& info) { return catalogueObject(info.Env(), train::bcoLossCatalogue()); });
  def("validateBcoLossOptions",
      [](const Napi::CallbackInfo& info) { return validateObject(info, train::bcoLossCatalogue()); });
}

}  // namespace alignkit::binding
