// A JSON parse failure by its position alone: the parser's own message quotes the bytes it read, and a file that is
// not what it claims (a link to /etc/shadow named config.json) must not put its content into an error message.
#pragma once

#include <cstddef>
#include <string>

namespace alignkit::io {

inline std::string notValidJson(size_t byte) {
  return "not valid JSON (syntax error at byte " + std::to_string(byte) + ")";
}

}  // namespace alignkit::io
