// Errors that cross into JS carry a stable code (the `code` of the JS Error) next to the message,
// so callers can branch on the kind of failure without parsing text.
#pragma once

#include <stdexcept>
#include <string>

namespace alignkit {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// A file whose bytes do not describe what they claim (safetensors header, offsets, dtype).
inline Error invalidFile(const std::string& path, const std::string& what) {
  return Error("ERR_INVALID_FILE", path + ": " + what);
}

// A checkpoint folder or config.json that alignkit cannot turn into a model.
inline Error invalidModel(const std::string& where, const std::string& what) {
  return Error("ERR_INVALID_MODEL", where + ": " + what);
}

// Arguments from the caller that do not fit (shapes, dtypes, devices).
inline Error invalidArgument(const std::string& what) { return Error("ERR_INVALID_ARG", what); }

}  // namespace alignkit
