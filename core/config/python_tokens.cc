#include "core/config/python_tokens.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace d2x::config::internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Tokenizer {
 public:
  explicit Tokenizer(absl::string_view s) : s_(s) {}

  absl::StatusOr<std::vector<Token>> Run() {
    while (true) {
      while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\f')) ++i_;
      if (i_ >= s_.size()) break;
      const char c = s_[i_];
      if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '\r') ++i_;
      } else if (c == '\\' && i_ + 1 < s_.size() && (s_[i_ + 1] == '\n' || s_[i_ + 1] == '\r')) {
        i_ += 2;
        if (s_[i_ - 1] == '\r' && i_ < s_.size() && s_[i_] == '\n') ++i_;
      } else if (c == '\n' || c == '\r') {
        ++i_;
        if (depth_ == 0 && !OnlyBlankRemains()) return Error("more than one line");
      } else if (IsDigit(c) || (c == '.' && i_ + 1 < s_.size() && IsDigit(s_[i_ + 1]))) {
        D2X_RETURN_IF_ERROR(ScanNumber());
      } else if (IsIdentStart(c)) {
        const size_t start = i_;
        while (i_ < s_.size() && IsIdentChar(s_[i_])) ++i_;
        std::string name(s_.substr(start, i_ - start));
        if (i_ < s_.size() && (s_[i_] == '\'' || s_[i_] == '"') && name.size() <= 2) {
          D2X_RETURN_IF_ERROR(ScanString(start, name));
        } else {
          Token t;
          t.kind = Token::Kind::kName;
          t.text = std::move(name);
          t.pos = start;
          out_.push_back(std::move(t));
        }
      } else if (c == '\'' || c == '"') {
        D2X_RETURN_IF_ERROR(ScanString(i_, ""));
      } else {
        D2X_RETURN_IF_ERROR(ScanOperator());
      }
    }
    Token end;
    end.pos = s_.size();
    out_.push_back(std::move(end));
    return std::move(out_);
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(what, " at offset ", i_));
  }

  bool OnlyBlankRemains() const {
    bool comment = false;
    for (size_t k = i_; k < s_.size(); ++k) {
      const char c = s_[k];
      if (c == '\n' || c == '\r') comment = false;
      else if (c == '#') comment = true;
      else if (!comment && c != ' ' && c != '\t' && c != '\f') return false;
    }
    return true;
  }

  absl::Status ScanOperator() {
    static const char* const kTwo[] = {"**", "//", "==", "!=", "<=", ">=", "<<", ">>", "->"};
    for (const char* op : kTwo) {
      if (s_.substr(i_, 2) == op) {
        PushOp(op, 2);
        return absl::OkStatus();
      }
    }
    const char c = s_[i_];
    if (std::strchr("()[]{},+-*/%~:.=<>!@&|^;", c) == nullptr || c == '\0') {
      return Error("invalid character");
    }
    if (c == '(' || c == '[' || c == '{') ++depth_;
    if ((c == ')' || c == ']' || c == '}') && depth_ > 0) --depth_;
    PushOp(std::string(1, c), 1);
    return absl::OkStatus();
  }

  void PushOp(std::string op, size_t len) {
    Token t;
    t.kind = Token::Kind::kOp;
    t.text = std::move(op);
    t.pos = i_;
    i_ += len;
    out_.push_back(std::move(t));
  }

  // digit (["_"] digit)*, appended without underscores. Empty when no digit is at i_.
  absl::Status ScanDigitPart(std::string& digits) {
    if (i_ >= s_.size() || !IsDigit(s_[i_])) return absl::OkStatus();
    digits.push_back(s_[i_++]);
    while (i_ < s_.size()) {
      if (s_[i_] == '_') {
        if (i_ + 1 >= s_.size() || !IsDigit(s_[i_ + 1])) return Error("invalid decimal literal");
        ++i_;
      } else if (!IsDigit(s_[i_])) {
        break;
      }
      digits.push_back(s_[i_++]);
    }
    return absl::OkStatus();
  }

  absl::Status ScanNumber() {
    const size_t start = i_;
    Token t;
    t.kind = Token::Kind::kNumber;
    t.pos = start;
    if (s_[i_] == '0' && i_ + 1 < s_.size() && std::strchr("xXoObB", s_[i_ + 1]) != nullptr &&
        s_[i_ + 1] != '\0') {
      const char b = s_[i_ + 1];
      const int base = (b == 'x' || b == 'X') ? 16 : (b == 'o' || b == 'O') ? 8 : 2;
      i_ += 2;
      uint64_t value = 0;
      bool any = false, overflow = false;
      while (i_ < s_.size()) {
        if (s_[i_] == '_') {
          ++i_;
          if (i_ >= s_.size()) return Error("invalid literal");
        }
        const int d = HexValue(s_[i_]);
        if (d < 0 || d >= base) {
          if (s_[i_ - 1] == '_') return Error("invalid literal");
          break;
        }
        if (value > (UINT64_MAX - d) / base) overflow = true;
        value = value * base + d;
        any = true;
        ++i_;
      }
      if (!any || (i_ < s_.size() && IsIdentChar(s_[i_]))) return Error("invalid literal");
      if (overflow || value > static_cast<uint64_t>(INT64_MAX)) {
        return absl::OutOfRangeError(absl::StrCat("integer literal '", s_.substr(start, i_ - start),
                                                  "' does not fit in 64 bits"));
      }
      t.value = Value::Int(static_cast<int64_t>(value));
    } else {
      std::string int_part, frac_part, exp_part;
      bool is_float = false;
      D2X_RETURN_IF_ERROR(ScanDigitPart(int_part));
      if (i_ < s_.size() && s_[i_] == '.') {
        ++i_;
        is_float = true;
        D2X_RETURN_IF_ERROR(ScanDigitPart(frac_part));
      }
      if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
        size_t j = i_ + 1;
        std::string sign;
        if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) sign = s_[j++];
        if (j < s_.size() && IsDigit(s_[j])) {
          i_ = j;
          D2X_RETURN_IF_ERROR(ScanDigitPart(exp_part));
          exp_part = sign + exp_part;
          is_float = true;
        }
      }
      bool imaginary = false;
      if (i_ < s_.size() && (s_[i_] == 'j' || s_[i_] == 'J')) {
        imaginary = true;
        ++i_;
      }
      if (i_ < s_.size() && IsIdentChar(s_[i_])) return Error("invalid decimal literal");
      if (imaginary) {
        t.unsupported = "complex numbers are not valid config values";
      } else if (!is_float) {
        if (int_part.size() > 1 && int_part[0] == '0' &&
            int_part.find_first_not_of('0') != std::string::npos) {
          return Error("leading zeros in decimal integer literals are not permitted");
        }
        int64_t v = 0;
        auto [ptr, ec] = std::from_chars(int_part.data(), int_part.data() + int_part.size(), v);
        if (ec != std::errc() || ptr != int_part.data() + int_part.size()) {
          return absl::OutOfRangeError(
              absl::StrCat("integer literal '", int_part, "' does not fit in 64 bits"));
        }
        t.value = Value::Int(v);
      } else {
        std::string text = (int_part.empty() ? "0" : int_part) + "." +
                           (frac_part.empty() ? "0" : frac_part);
        if (!exp_part.empty()) text += "e" + exp_part;
        double v = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec == std::errc::result_out_of_range) v = std::strtod(text.c_str(), nullptr);
        t.value = Value::Float(v);
      }
    }
    t.text = std::string(s_.substr(start, i_ - start));
    out_.push_back(std::move(t));
    return absl::OkStatus();
  }

  absl::Status ScanString(size_t start, std::string prefix) {
    bool raw = false, bytes = false, unicode = false, fstring = false;
    for (char& c : prefix) {
      c = static_cast<char>(c | 0x20);  // Lower case.
      if (c == 'r' && !raw) raw = true;
      else if (c == 'b' && !bytes) bytes = true;
      else if (c == 'u' && !unicode) unicode = true;
      else if (c == 'f' && !fstring) fstring = true;
      else return Error("invalid string prefix");
    }
    if ((unicode && prefix.size() > 1) || (bytes && fstring)) return Error("invalid string prefix");
    if (fstring) return Error("f-strings are not literals");
    const char quote = s_[i_];
    const bool triple = s_.substr(i_, 3) == std::string(3, quote);
    i_ += triple ? 3 : 1;
    std::string out;
    while (true) {
      if (i_ >= s_.size()) return Error("unterminated string literal");
      const char c = s_[i_];
      if (!triple && (c == '\n' || c == '\r')) return Error("unterminated string literal");
      if (c == quote && (!triple || s_.substr(i_, 3) == std::string(3, quote))) {
        i_ += triple ? 3 : 1;
        break;
      }
      if (c != '\\') {
        out.push_back(c);
        ++i_;
        continue;
      }
      if (i_ + 1 >= s_.size()) return Error("unterminated string literal");
      const char e = s_[i_ + 1];
      if (raw) {
        out.push_back('\\');
        out.push_back(e);
        i_ += 2;
        continue;
      }
      i_ += 2;
      D2X_RETURN_IF_ERROR(Escape(e, bytes, out));
    }
    Token t;
    t.kind = Token::Kind::kString;
    t.value = Value::String(std::move(out));
    if (bytes) t.unsupported = "bytes values are not valid config values";
    t.pos = start;
    t.text = std::string(s_.substr(start, i_ - start));
    out_.push_back(std::move(t));
    return absl::OkStatus();
  }

  // The escape `\e` (i_ is past `e`).
  absl::Status Escape(char e, bool bytes, std::string& out) {
    switch (e) {
      case '\n': return absl::OkStatus();
      case '\r':
        if (i_ < s_.size() && s_[i_] == '\n') ++i_;
        return absl::OkStatus();
      case '\\': case '\'': case '"': out.push_back(e); return absl::OkStatus();
      case 'a': out.push_back('\a'); return absl::OkStatus();
      case 'b': out.push_back('\b'); return absl::OkStatus();
      case 'f': out.push_back('\f'); return absl::OkStatus();
      case 'n': out.push_back('\n'); return absl::OkStatus();
      case 'r': out.push_back('\r'); return absl::OkStatus();
      case 't': out.push_back('\t'); return absl::OkStatus();
      case 'v': out.push_back('\v'); return absl::OkStatus();
      default: break;
    }
    if (e >= '0' && e <= '7') {
      uint32_t cp = e - '0';
      for (int k = 0; k < 2 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7'; ++k) {
        cp = cp * 8 + (s_[i_++] - '0');
      }
      AppendUtf8(cp, out);
      return absl::OkStatus();
    }
    int digits = 0;
    if (e == 'x') digits = 2;
    if (!bytes && e == 'u') digits = 4;
    if (!bytes && e == 'U') digits = 8;
    if (!bytes && e == 'N') return Error("\\N{...} escapes are not supported");
    if (digits == 0) {  // Unknown escapes keep the backslash.
      out.push_back('\\');
      out.push_back(e);
      return absl::OkStatus();
    }
    uint32_t cp = 0;
    for (int k = 0; k < digits; ++k) {
      if (i_ >= s_.size() || HexValue(s_[i_]) < 0) return Error("truncated \\x/\\u escape");
      cp = cp * 16 + HexValue(s_[i_++]);
    }
    if (cp > 0x10FFFF) return Error("illegal Unicode character");
    AppendUtf8(cp, out);
    return absl::OkStatus();
  }

  absl::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
  std::vector<Token> out_;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view src) { return Tokenizer(src).Run(); }

}  // namespace d2x::config::internal
