#include "core/config/python_parser.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/config/python_tokens.h"
#include "core/util/status_macros.h"

namespace d2x::config::internal {
namespace {

constexpr int kMaxDepth = 100;         // Nesting.
constexpr size_t kMaxForClauses = 16;  // Per list comprehension.

bool IsKeyword(const std::string& name) {
  static const char* const kKeywords[] = {
      "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
      "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
      "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
      "with", "yield"};
  for (const char* k : kKeywords) {
    if (name == k) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<Expr> ParseAll() {
    if (Peek().kind == Token::Kind::kEnd) return Error("empty expression");
    D2X_ASSIGN_OR_RETURN(Expr e, ParseExprList());
    if (Peek().kind != Token::Kind::kEnd) return Error("unexpected token");
    return e;
  }

 private:
  const Token& Peek() const { return tokens_[index_]; }
  bool IsOp(const char* op) const {
    return Peek().kind == Token::Kind::kOp && Peek().text == op;
  }
  bool IsName(const char* name) const {
    return Peek().kind == Token::Kind::kName && Peek().text == name;
  }
  const Token& Next() {
    const Token& t = tokens_[index_];
    if (t.kind != Token::Kind::kEnd) ++index_;
    return t;
  }
  absl::Status Error(absl::string_view what) const {
    const Token& t = Peek();
    std::string near = t.kind == Token::Kind::kEnd ? "end of input" : absl::StrCat("'", t.text, "'");
    return absl::InvalidArgumentError(
        absl::StrCat(what, " at offset ", t.pos, " (near ", near, ")"));
  }
  absl::Status Expect(const char* op) {
    if (!IsOp(op)) return Error(absl::StrCat("expected '", op, "'"));
    Next();
    return absl::OkStatus();
  }
  bool StartsExpr() const {
    const Token& t = Peek();
    switch (t.kind) {
      case Token::Kind::kNumber:
      case Token::Kind::kString: return true;
      case Token::Kind::kName: return !IsKeyword(t.text);
      case Token::Kind::kOp:
        return t.text == "(" || t.text == "[" || t.text == "{" || t.text == "+" ||
               t.text == "-" || t.text == "~";
      case Token::Kind::kEnd: return false;
    }
    return false;
  }

  // expr (',' expr)* [','] — a tuple when there is a comma.
  absl::StatusOr<Expr> ParseExprList() {
    const size_t pos = Peek().pos;
    D2X_ASSIGN_OR_RETURN(Expr first, ParseExpr());
    if (!IsOp(",")) return first;
    Expr tuple;
    tuple.kind = Expr::Kind::kTuple;
    tuple.pos = pos;
    tuple.args.push_back(std::move(first));
    while (IsOp(",")) {
      Next();
      if (!StartsExpr()) break;
      D2X_ASSIGN_OR_RETURN(Expr e, ParseExpr());
      tuple.args.push_back(std::move(e));
    }
    return tuple;
  }

  absl::StatusOr<Expr> ParseExpr() {
    if (++depth_ > kMaxDepth) return Error("expression nested too deeply");
    absl::StatusOr<Expr> e = ParseArith();
    --depth_;
    if (e.ok() && Peek().kind == Token::Kind::kOp) {
      const std::string& op = Peek().text;
      if (op == "<" || op == ">" || op == "=" || op == "!" || op == "&" || op == "|" ||
          op == "^" || op == "@" || op == "." || op == ";") {
        return Error("unsupported operator");
      }
    }
    if (e.ok() && (IsName("if") || IsName("and") || IsName("or") || IsName("not") ||
                   IsName("is") || IsName("lambda"))) {
      return Error("unsupported syntax");
    }
    return e;
  }

  absl::StatusOr<Expr> Binary(std::string op, Expr lhs, Expr rhs) {
    Expr e;
    e.kind = Expr::Kind::kBinary;
    e.pos = lhs.pos;
    e.op = std::move(op);
    e.args.push_back(std::move(lhs));
    e.args.push_back(std::move(rhs));
    return e;
  }

  absl::StatusOr<Expr> ParseArith() {
    D2X_ASSIGN_OR_RETURN(Expr lhs, ParseTerm());
    while (IsOp("+") || IsOp("-")) {
      std::string op = Next().text;
      D2X_ASSIGN_OR_RETURN(Expr rhs, ParseTerm());
      D2X_ASSIGN_OR_RETURN(lhs, Binary(op, std::move(lhs), std::move(rhs)));
    }
    return lhs;
  }

  absl::StatusOr<Expr> ParseTerm() {
    D2X_ASSIGN_OR_RETURN(Expr lhs, ParseFactor());
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      std::string op = Next().text;
      D2X_ASSIGN_OR_RETURN(Expr rhs, ParseFactor());
      D2X_ASSIGN_OR_RETURN(lhs, Binary(op, std::move(lhs), std::move(rhs)));
    }
    return lhs;
  }

  absl::StatusOr<Expr> ParseFactor() {
    if (IsOp("+") || IsOp("-") || IsOp("~")) {
      if (++depth_ > kMaxDepth) return Error("expression nested too deeply");
      Expr e;
      e.kind = Expr::Kind::kUnary;
      e.pos = Peek().pos;
      e.op = Next().text;
      D2X_ASSIGN_OR_RETURN(Expr operand, ParseFactor());
      --depth_;
      e.args.push_back(std::move(operand));
      return e;
    }
    return ParsePower();
  }

  absl::StatusOr<Expr> ParsePower() {
    D2X_ASSIGN_OR_RETURN(Expr base, ParsePrimary());
    if (!IsOp("**")) return base;
    Next();
    if (++depth_ > kMaxDepth) return Error("expression nested too deeply");
    D2X_ASSIGN_OR_RETURN(Expr exponent, ParseFactor());
    --depth_;
    return Binary("**", std::move(base), std::move(exponent));
  }

  absl::StatusOr<Expr> ParsePrimary() {
    D2X_ASSIGN_OR_RETURN(Expr atom, ParseAtom());
    if (IsOp("(")) {
      if (atom.kind != Expr::Kind::kName) return Error("only calls of range() are supported");
      Next();
      Expr call;
      call.kind = Expr::Kind::kCall;
      call.pos = atom.pos;
      call.op = atom.op;
      while (!IsOp(")")) {
        D2X_ASSIGN_OR_RETURN(Expr arg, ParseExpr());
        call.args.push_back(std::move(arg));
        if (!IsOp(",")) break;
        Next();
      }
      D2X_RETURN_IF_ERROR(Expect(")"));
      atom = std::move(call);
    }
    if (IsOp("(") || IsOp("[") || IsOp(".")) {
      return Error("calls, subscripts and attributes are not supported");
    }
    return atom;
  }

  absl::StatusOr<Expr> ParseAtom() {
    if (++depth_ > kMaxDepth) return Error("expression nested too deeply");
    absl::StatusOr<Expr> e = ParseAtomInner();
    --depth_;
    return e;
  }

  absl::StatusOr<Expr> ParseAtomInner() {
    const Token& t = Peek();
    Expr e;
    e.pos = t.pos;
    switch (t.kind) {
      case Token::Kind::kNumber:
        e.value = t.value;
        e.unsupported = t.unsupported;
        Next();
        return e;
      case Token::Kind::kString: {
        e.value = t.value;
        e.unsupported = t.unsupported;
        const bool bytes = !t.unsupported.empty();
        Next();
        while (Peek().kind == Token::Kind::kString) {  // Implicit concatenation.
          if (Peek().unsupported.empty() == bytes) return Error("cannot mix bytes and str");
          e.value.s += Next().value.s;
        }
        return e;
      }
      case Token::Kind::kName: {
        const std::string& name = t.text;
        if (name == "True" || name == "False") {
          e.value = Value::Bool(name == "True");
        } else if (name == "None") {
          e.value = Value::None();
        } else if (IsKeyword(name)) {
          return Error("unsupported syntax");
        } else {
          e.kind = Expr::Kind::kName;
          e.op = name;
        }
        Next();
        return e;
      }
      case Token::Kind::kEnd: return Error("unexpected end of expression");
      case Token::Kind::kOp: break;
    }
    if (IsOp("(")) {
      Next();
      if (IsOp(")")) {
        Next();
        e.kind = Expr::Kind::kTuple;
        return e;
      }
      D2X_ASSIGN_OR_RETURN(Expr inner, ParseExprList());
      if (IsName("for")) return Error("generator expressions are not supported");
      D2X_RETURN_IF_ERROR(Expect(")"));
      return inner;
    }
    if (IsOp("[")) {
      Next();
      e.kind = Expr::Kind::kList;
      if (IsOp("]")) {
        Next();
        return e;
      }
      D2X_ASSIGN_OR_RETURN(Expr first, ParseExpr());
      e.args.push_back(std::move(first));
      if (IsName("for")) {
        e.kind = Expr::Kind::kListComp;
        while (IsName("for")) {
          if (e.vars.size() >= kMaxForClauses) return Error("too many 'for' clauses");
          Next();
          if (Peek().kind != Token::Kind::kName || IsKeyword(Peek().text)) {
            return Error("expected a single name after 'for'");
          }
          e.vars.push_back(Next().text);
          if (!IsName("in")) return Error("expected 'in'");
          Next();
          D2X_ASSIGN_OR_RETURN(Expr iterable, ParseExpr());
          e.args.push_back(std::move(iterable));
        }
        if (IsName("if")) return Error("'if' in comprehensions is not supported");
        D2X_RETURN_IF_ERROR(Expect("]"));
        return e;
      }
      while (IsOp(",")) {
        Next();
        if (!StartsExpr()) break;
        D2X_ASSIGN_OR_RETURN(Expr item, ParseExpr());
        e.args.push_back(std::move(item));
      }
      D2X_RETURN_IF_ERROR(Expect("]"));
      return e;
    }
    if (IsOp("{")) {  // Dict or set: parsed so literal_eval's answer is known, never a value.
      Next();
      e.kind = Expr::Kind::kBrace;
      while (!IsOp("}")) {
        D2X_ASSIGN_OR_RETURN(Expr item, ParseExpr());
        e.args.push_back(std::move(item));
        if (IsOp(":")) {
          Next();
          D2X_ASSIGN_OR_RETURN(Expr value, ParseExpr());
          e.args.push_back(std::move(value));
        }
        if (!IsOp(",")) break;
        Next();
      }
      D2X_RETURN_IF_ERROR(Expect("}"));
      return e;
    }
    return Error("unexpected token");
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int depth_ = 0;
};

}  // namespace

absl::StatusOr<Expr> ParsePythonExpression(absl::string_view text) {
  D2X_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
  Parser parser(std::move(tokens));
  return parser.ParseAll();
}

}  // namespace d2x::config::internal
