#include "safetensors.h"

#include "io/safetensors.h"
#include "promise_worker.h"
#include "tensor_view.h"

namespace alignkit::binding {
namespace {

struct FileContents {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::map<std::string, std::string> metadata;
};

}  // namespace

// readSafetensors(path) -> Promise<{ tensors: [{ name, dtype, shape, data }], metadata }>
Napi::Value readSafetensors(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  return PromiseWorker<FileContents>::start(
      info.Env(),
      [path] {
        const io::SafetensorsFile file = io::SafetensorsFile::open(path);
        FileContents out{{}, file.metadata()};
        for (const std::string& name : file.names()) out.tensors.emplace_back(name, file.tensor(name).clone());
        return out;
      },
      [](Napi::Env env, FileContents& contents) -> Napi::Value {
        Napi::Array tensors = Napi::Array::New(env, contents.tensors.size());
        for (size_t i = 0; i < contents.tensors.size(); ++i) {
          const auto& [name, tensor] = contents.tensors[i];
          Napi::Object t = toTypedResult(env, tensor);
          t.Set("name", name);
          t.Set("dtype", io::safetensorsDtypeName(tensor.scalar_type()));
          tensors.Set(static_cast<uint32_t>(i), t);
        }
        Napi::Object metadata = Napi::Object::New(env);
        for (const auto& [key, value] : contents.metadata) metadata.Set(key, value);
        Napi::Object out = Napi::Object::New(env);
        out.Set("tensors", tensors);
        out.Set("metadata", metadata);
        return out;
      });
}

}  // namespace alignkit::binding
