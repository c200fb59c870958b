// Parser for the Python expression subset of python_expr.h (tokens from python_tokens.h): the
// syntax tree that ast.literal_eval checks and the restricted evaluator runs.
//
// Internal to //core/config:config.
#ifndef D2X_CORE_CONFIG_PYTHON_PARSER_H_
#define D2X_CORE_CONFIG_PYTHON_PARSER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/config/value.h"

namespace d2x::config::internal {

// A parsed expression.
struct Expr {
  enum class Kind { kConst, kName, kTuple, kList, kBrace, kListComp, kUnary, kBinary, kCall };
  Kind kind = Kind::kConst;
  Value value;              // kConst.
  std::string unsupported;  // kConst: why a config cannot hold it (bytes, complex), or empty.
  std::string op;           // kName: the name; kUnary/kBinary: the operator; kCall: the callee.
  std::vector<Expr> args;   // Operands / elements; kListComp: element, then one iterable per `for`.
                            // kBrace (dict or set): the items, keys and values alike.
  std::vector<std::string> vars;  // kListComp: the variable of each `for`.
  size_t pos = 0;           // Offset in the source, for messages.
};

// One expression (a bare `a, b` is a tuple): numbers, strings, names, tuples, lists, dicts/sets,
// list comprehensions with `for` clauses, calls of a name, unary + - ~, binary + - * / // % **.
// Errors are InvalidArgument for syntax Python rejects or we do not support (comparisons,
// boolean operators, lambdas, subscripts, attributes, `if` clauses, generator expressions, over
// 100 levels of nesting, over 16 `for` clauses), and the tokenizer's OutOfRange for ints beyond
// 64 bits.
absl::StatusOr<Expr> ParsePythonExpression(absl::string_view text);

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_PYTHON_PARSER_H_
