// The two places where detectron2 configs contain Python source text, handled without Python:
//
// * yacs' _decode_cfg_value runs ast.literal_eval on every string value (from YAML files and from
//   merge_from_list), so "(640, 672)" becomes a tuple, "0.5" a float, "True" a bool, and "res4"
//   (not a literal) stays a string. ParsePythonLiteral reproduces that.
// * detectron2's Base-RetinaNet.yaml computes anchor sizes with a
//   `!!python/object/apply:eval ["[[x, x * 2**(1.0/3), x * 2**(2.0/3) ] for x in [32, ...]]"]`
//   tag. EvalPythonExpression evaluates a small, side-effect-free subset of Python expressions
//   (numbers, strings, True/False/None, lists, tuples, + - * / // % ** and unary - + ~, names
//   bound by list comprehensions, `for` clauses, range() as a comprehension iterable). Nothing is
//   ever executed; anything else is an error.
//
// Internal to //core/config:config.
#ifndef D2X_CORE_CONFIG_PYTHON_EXPR_H_
#define D2X_CORE_CONFIG_PYTHON_EXPR_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "core/config/value.h"

namespace d2x::config::internal {

struct LiteralResult {
  enum class Status {
    kValue,       // `value` holds the literal.
    kNotLiteral,  // literal_eval raises ValueError/SyntaxError: yacs keeps the string as is.
    kError,       // A literal a config cannot hold (bytes, complex, dict, set, an int beyond
                  // 64 bits) or input beyond our limits; `error` says which.
  };
  Status status = Status::kNotLiteral;
  Value value;
  std::string error;
};

// ast.literal_eval(text) as yacs applies it (leading spaces and tabs are ignored).
LiteralResult ParsePythonLiteral(absl::string_view text);

// eval(text) for the subset described above. Errors say what is unsupported and where.
absl::StatusOr<Value> EvalPythonExpression(absl::string_view text);

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_PYTHON_EXPR_H_
