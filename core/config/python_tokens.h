// Tokenizer for the Python expression subset of python_expr.h, following Python 3's lexical rules
// for numbers (underscores, 0x/0o/0b, no leading zeros), strings (prefixes, escapes, triple
// quotes, implicit line joining inside brackets) and comments.
//
// Internal to //core/config:config.
#ifndef D2X_CORE_CONFIG_PYTHON_TOKENS_H_
#define D2X_CORE_CONFIG_PYTHON_TOKENS_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/value.h"

namespace d2x::config::internal {

struct Token {
  enum class Kind { kNumber, kString, kName, kOp, kEnd };
  Kind kind = Kind::kEnd;
  Value value;              // kNumber: int or float; kString: the decoded str.
  std::string unsupported;  // Set for bytes and imaginary literals: why a config can't hold it.
  std::string text;         // Source text (kName: the name, kOp: the operator).
  size_t pos = 0;           // Offset in the source.
};

// The tokens, ending with one kEnd. InvalidArgument for text Python would reject (SyntaxError),
// OutOfRange for a valid literal beyond our limits (an int beyond 64 bits).
absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view src);

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_PYTHON_TOKENS_H_
