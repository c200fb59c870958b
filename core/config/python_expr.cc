#include "core/config/python_expr.h"

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/config/python_parser.h"
#include "core/util/status_macros.h"

namespace d2x::config::internal {
namespace {

constexpr size_t kMaxElements = 100000;  // Values built by one evaluation.

using Env = std::vector<std::pair<std::string, Value>>;

absl::Status EvalError(const Expr& e, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(what, " at offset ", e.pos));
}

// Python numbers: bool behaves as int.
bool AsInt(const Value& v, int64_t& out) {
  if (v.kind == Value::Kind::kInt) out = v.i;
  else if (v.kind == Value::Kind::kBool) out = v.b ? 1 : 0;
  else return false;
  return true;
}
bool AsDouble(const Value& v, double& out) {
  int64_t i;
  if (AsInt(v, i)) out = static_cast<double>(i);
  else if (v.kind == Value::Kind::kFloat) out = v.f;
  else return false;
  return true;
}

absl::StatusOr<Value> IntPow(const Expr& e, int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if ((exp & 1) && __builtin_mul_overflow(result, base, &result)) {
      return EvalError(e, "integer overflow in **");
    }
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) {
      return EvalError(e, "integer overflow in **");
    }
  }
  return Value::Int(result);
}

absl::StatusOr<Value> FloatBinary(const Expr& e, const std::string& op, double a, double b) {
  if (op == "+") return Value::Float(a + b);
  if (op == "-") return Value::Float(a - b);
  if (op == "*") return Value::Float(a * b);
  if (op == "/") {
    if (b == 0) return EvalError(e, "division by zero");
    return Value::Float(a / b);
  }
  if (op == "//" || op == "%") {  // CPython's float_divmod.
    if (b == 0) return EvalError(e, "division by zero");
    double mod = std::fmod(a, b);
    double div = (a - mod) / b;
    if (mod != 0) {
      if ((b < 0) != (mod < 0)) {
        mod += b;
        div -= 1.0;
      }
    } else {
      mod = std::copysign(0.0, b);
    }
    double floordiv;
    if (div != 0) {
      floordiv = std::floor(div);
      if (div - floordiv > 0.5) floordiv += 1.0;
    } else {
      floordiv = std::copysign(0.0, a / b);
    }
    return Value::Float(op == "%" ? mod : floordiv);
  }
  // "**"
  if (a == 0 && b < 0) return EvalError(e, "0.0 cannot be raised to a negative power");
  if (a < 0 && std::isfinite(b) && b != std::floor(b)) {
    return EvalError(e, "negative number raised to a fractional power (complex result)");
  }
  const double r = std::pow(a, b);
  if (std::isinf(r) && std::isfinite(a) && std::isfinite(b)) return EvalError(e, "overflow in **");
  return Value::Float(r);
}

absl::StatusOr<Value> IntBinary(const Expr& e, const std::string& op, int64_t a, int64_t b) {
  int64_t r = 0;
  if (op == "+") {
    if (__builtin_add_overflow(a, b, &r)) return EvalError(e, "integer overflow");
    return Value::Int(r);
  }
  if (op == "-") {
    if (__builtin_sub_overflow(a, b, &r)) return EvalError(e, "integer overflow");
    return Value::Int(r);
  }
  if (op == "*") {
    if (__builtin_mul_overflow(a, b, &r)) return EvalError(e, "integer overflow");
    return Value::Int(r);
  }
  if (op == "/") {
    if (b == 0) return EvalError(e, "division by zero");
    return Value::Float(static_cast<double>(a) / static_cast<double>(b));
  }
  if (op == "//" || op == "%") {
    if (b == 0) return EvalError(e, "division by zero");
    if (a == INT64_MIN && b == -1) {
      if (op == "%") return Value::Int(0);
      return EvalError(e, "integer overflow");
    }
    int64_t q = a / b, m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) {
      m += b;
      q -= 1;
    }
    return Value::Int(op == "%" ? m : q);
  }
  // "**"
  if (b < 0) {
    if (a == 0) return EvalError(e, "0 cannot be raised to a negative power");
    return FloatBinary(e, op, static_cast<double>(a), static_cast<double>(b));
  }
  return IntPow(e, a, b);
}

absl::StatusOr<Value> Repeat(const Expr& e, const Value& seq, int64_t n, size_t& budget) {
  Value out = seq;
  out.items.clear();
  out.s.clear();
  if (n <= 0) return out;
  const size_t unit = seq.kind == Value::Kind::kString ? seq.s.size() : seq.items.size();
  if (unit > 0 && static_cast<uint64_t>(n) > (kMaxElements * 64) / unit) {
    return EvalError(e, "sequence repetition too large");
  }
  for (int64_t k = 0; k < n; ++k) {
    if (seq.kind == Value::Kind::kString) {
      out.s += seq.s;
    } else {
      budget += seq.items.size();
      if (budget > kMaxElements) return EvalError(e, "result too large");
      out.items.insert(out.items.end(), seq.items.begin(), seq.items.end());
    }
  }
  return out;
}

absl::StatusOr<Value> ApplyBinary(const Expr& e, const Value& a, const Value& b, size_t& budget) {
  const std::string& op = e.op;
  int64_t ia, ib;
  double fa, fb;
  if (AsInt(a, ia) && AsInt(b, ib)) return IntBinary(e, op, ia, ib);
  if (AsDouble(a, fa) && AsDouble(b, fb)) return FloatBinary(e, op, fa, fb);
  const bool a_seq = a.is_sequence() || a.kind == Value::Kind::kString;
  const bool b_seq = b.is_sequence() || b.kind == Value::Kind::kString;
  if (op == "+" && a_seq && a.kind == b.kind) {
    Value out = a;
    out.s += b.s;
    budget += b.items.size();
    if (budget > kMaxElements) return EvalError(e, "result too large");
    out.items.insert(out.items.end(), b.items.begin(), b.items.end());
    return out;
  }
  if (op == "*" && a_seq && AsInt(b, ib)) return Repeat(e, a, ib, budget);
  if (op == "*" && b_seq && AsInt(a, ia)) return Repeat(e, b, ia, budget);
  return EvalError(e, absl::StrCat("unsupported operand types for ", op, ": ", KindName(a.kind),
                                   " and ", KindName(b.kind)));
}

class Evaluator {
 public:
  absl::StatusOr<Value> Eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kConst:
        if (!e.unsupported.empty()) return EvalError(e, e.unsupported);
        return e.value;
      case Expr::Kind::kName:
        for (auto it = env_.rbegin(); it != env_.rend(); ++it) {
          if (it->first == e.op) return it->second;
        }
        return EvalError(e, absl::StrCat("name '", e.op, "' is not defined"));
      case Expr::Kind::kTuple:
      case Expr::Kind::kList: {
        std::vector<Value> items;
        for (const Expr& arg : e.args) {
          D2X_ASSIGN_OR_RETURN(Value v, Eval(arg));
          items.push_back(std::move(v));
          if (++budget_ > kMaxElements) return EvalError(e, "result too large");
        }
        return e.kind == Expr::Kind::kList ? Value::List(std::move(items))
                                           : Value::Tuple(std::move(items));
      }
      case Expr::Kind::kBrace: return EvalError(e, "dict and set values are not supported");
      case Expr::Kind::kCall:
        return EvalError(e, "function calls are not supported (only range() as the iterable "
                            "of a list comprehension)");
      case Expr::Kind::kListComp: {
        std::vector<Value> out;
        D2X_RETURN_IF_ERROR(Comprehension(e, 0, out));
        return Value::List(std::move(out));
      }
      case Expr::Kind::kUnary: {
        D2X_ASSIGN_OR_RETURN(Value v, Eval(e.args[0]));
        int64_t i;
        if (AsInt(v, i)) {
          if (e.op == "+") return Value::Int(i);
          if (e.op == "~") return Value::Int(~i);
          if (i == INT64_MIN) return EvalError(e, "integer overflow");
          return Value::Int(-i);
        }
        if (v.kind == Value::Kind::kFloat && e.op != "~") {
          return Value::Float(e.op == "-" ? -v.f : v.f);
        }
        return EvalError(e, absl::StrCat("bad operand type for unary ", e.op, ": ",
                                         KindName(v.kind)));
      }
      case Expr::Kind::kBinary: {
        D2X_ASSIGN_OR_RETURN(Value a, Eval(e.args[0]));
        D2X_ASSIGN_OR_RETURN(Value b, Eval(e.args[1]));
        return ApplyBinary(e, a, b, budget_);
      }
    }
    return EvalError(e, "unsupported expression");
  }

 private:
  absl::StatusOr<std::vector<Value>> Iterable(const Expr& e) {
    if (e.kind == Expr::Kind::kCall && e.op == "range") {
      if (e.args.empty() || e.args.size() > 3) return EvalError(e, "range() takes 1 to 3 ints");
      int64_t bounds[3] = {0, 0, 1};
      for (size_t k = 0; k < e.args.size(); ++k) {
        D2X_ASSIGN_OR_RETURN(Value v, Eval(e.args[k]));
        if (v.kind != Value::Kind::kInt) return EvalError(e, "range() takes 1 to 3 ints");
        bounds[e.args.size() == 1 ? 1 : k] = v.i;
      }
      const int64_t start = bounds[0], stop = bounds[1], step = bounds[2];
      if (step == 0) return EvalError(e, "range() step must not be zero");
      std::vector<Value> out;
      for (__int128 x = start; step > 0 ? x < stop : x > stop; x += step) {
        if (++budget_ > kMaxElements) return EvalError(e, "result too large");
        out.push_back(Value::Int(static_cast<int64_t>(x)));
      }
      return out;
    }
    D2X_ASSIGN_OR_RETURN(Value v, Eval(e));
    if (v.is_sequence()) return std::move(v.items);
    if (v.kind == Value::Kind::kString) {
      std::vector<Value> out;
      for (char c : v.s) out.push_back(Value::String(std::string(1, c)));
      return out;
    }
    return EvalError(e, absl::StrCat("'", KindName(v.kind), "' object is not iterable"));
  }

  absl::Status Comprehension(const Expr& e, size_t clause, std::vector<Value>& out) {
    if (clause == e.vars.size()) {
      D2X_ASSIGN_OR_RETURN(Value v, Eval(e.args[0]));
      out.push_back(std::move(v));
      if (++budget_ > kMaxElements) return EvalError(e, "result too large");
      return absl::OkStatus();
    }
    D2X_ASSIGN_OR_RETURN(std::vector<Value> items, Iterable(e.args[clause + 1]));
    for (Value& item : items) {
      env_.emplace_back(e.vars[clause], std::move(item));
      absl::Status s = Comprehension(e, clause + 1, out);
      env_.pop_back();
      D2X_RETURN_IF_ERROR(s);
    }
    return absl::OkStatus();
  }

  Env env_;
  size_t budget_ = 0;
};

// What ast.literal_eval accepts: constants, tuples/lists/dicts/sets of literals, and a unary sign
// on a number. Sets `unsupported` when the literal is one a config cannot hold.
bool IsLiteral(const Expr& e, std::string& unsupported) {
  switch (e.kind) {
    case Expr::Kind::kConst:
      if (!e.unsupported.empty() && unsupported.empty()) unsupported = e.unsupported;
      return true;
    case Expr::Kind::kTuple:
    case Expr::Kind::kList:
    case Expr::Kind::kBrace:
      for (const Expr& arg : e.args) {
        if (!IsLiteral(arg, unsupported)) return false;
      }
      if (e.kind == Expr::Kind::kBrace && unsupported.empty()) {
        unsupported = "dict and set values are not valid config values";
      }
      return true;
    case Expr::Kind::kUnary: {
      const Expr& a = e.args[0];
      if (e.op == "~" || a.kind != Expr::Kind::kConst) return false;
      if (!a.unsupported.empty()) {  // -1j
        if (unsupported.empty()) unsupported = a.unsupported;
        return true;
      }
      return a.value.is_number();
    }
    case Expr::Kind::kBinary: {  // Only complex literals such as 1+2j.
      const Expr& rhs = e.args[1];
      if ((e.op != "+" && e.op != "-") || rhs.kind != Expr::Kind::kConst ||
          rhs.unsupported.find("complex") == std::string::npos) {
        return false;
      }
      const Expr* lhs = &e.args[0];
      if (lhs->kind == Expr::Kind::kUnary) lhs = &lhs->args[0];
      if (lhs->kind != Expr::Kind::kConst || !lhs->value.is_number()) return false;
      if (unsupported.empty()) unsupported = rhs.unsupported;
      return true;
    }
    default: return false;
  }
}

}  // namespace

LiteralResult ParsePythonLiteral(absl::string_view text) {
  LiteralResult result;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  absl::StatusOr<Expr> expr = ParsePythonExpression(text);
  if (!expr.ok()) {
    if (absl::IsOutOfRange(expr.status())) {  // A valid literal beyond our limits.
      result.status = LiteralResult::Status::kError;
      result.error = std::string(expr.status().message());
    }
    return result;
  }
  std::string unsupported;
  if (!IsLiteral(*expr, unsupported)) return result;
  if (!unsupported.empty()) {
    result.status = LiteralResult::Status::kError;
    result.error = unsupported;
    return result;
  }
  Evaluator evaluator;
  absl::StatusOr<Value> value = evaluator.Eval(*expr);
  if (!value.ok()) {
    result.status = LiteralResult::Status::kError;
    result.error = std::string(value.status().message());
    return result;
  }
  result.status = LiteralResult::Status::kValue;
  result.value = *std::move(value);
  return result;
}

absl::StatusOr<Value> EvalPythonExpression(absl::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  D2X_ASSIGN_OR_RETURN(Expr expr, ParsePythonExpression(text));
  Evaluator evaluator;
  return evaluator.Eval(expr);
}

}  // namespace d2x::config::internal
