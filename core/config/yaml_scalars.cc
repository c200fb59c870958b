#include "core/config/yaml_scalars.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/util/status_macros.h"

namespace d2x::config::internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool AllOf(absl::string_view s, absl::string_view allowed) {
  return s.find_first_not_of(allowed) == absl::string_view::npos;
}

// --- YAML 1.1 implicit resolvers, as PyYAML's resolver.py ---------------------------------------

// ":[0-5]?[0-9]" groups (at least one) starting at s[i]; returns the end or npos.
size_t MatchSexagesimalGroups(absl::string_view s, size_t i, char terminator) {
  size_t groups = 0;
  while (i < s.size() && s[i] == ':') {
    ++i;
    auto ends_group = [&](size_t j) { return j == s.size() || s[j] == ':' || s[j] == terminator; };
    if (i + 1 < s.size() && s[i] >= '0' && s[i] <= '5' && IsDigit(s[i + 1]) && ends_group(i + 2)) {
      i += 2;
    } else if (i < s.size() && IsDigit(s[i]) && ends_group(i + 1)) {
      i += 1;
    } else {
      return absl::string_view::npos;
    }
    ++groups;
  }
  return groups > 0 ? i : absl::string_view::npos;
}

// [0-9][0-9_]* from i (first must be a digit, or [1-9] when nonzero_first); returns end or npos.
size_t MatchDigits(absl::string_view s, size_t i, bool nonzero_first) {
  if (i >= s.size() || !IsDigit(s[i]) || (nonzero_first && s[i] == '0')) {
    return absl::string_view::npos;
  }
  ++i;
  while (i < s.size() && (IsDigit(s[i]) || s[i] == '_')) ++i;
  return i;
}

bool IsYamlInt(absl::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return false;
  if (s.size() > 2 && s.substr(0, 2) == "0b") return AllOf(s.substr(2), "01_");
  if (s.size() > 2 && s.substr(0, 2) == "0x") return AllOf(s.substr(2), "0123456789abcdefABCDEF_");
  if (s == "0") return true;
  if (s[0] == '0') return AllOf(s.substr(1), "01234567_");
  const size_t end = MatchDigits(s, 0, /*nonzero_first=*/true);
  if (end == absl::string_view::npos) return false;
  if (end == s.size()) return true;
  return MatchSexagesimalGroups(s, end, '\0') == s.size();
}

// ([eE][-+][0-9]+)? at i; returns end or npos.
size_t MatchOptionalExponent(absl::string_view s, size_t i) {
  if (i == s.size() || (s[i] != 'e' && s[i] != 'E')) return i;
  if (i + 2 >= s.size() || (s[i + 1] != '-' && s[i + 1] != '+') || !IsDigit(s[i + 2])) {
    return absl::string_view::npos;
  }
  size_t j = i + 2;
  while (j < s.size() && IsDigit(s[j])) ++j;
  return j;
}

bool IsYamlFloat(absl::string_view s) {
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return true;
  if (!s.empty() && s[0] == '.' && s.size() > 1 && AllOf(s.substr(1, 1), "0123456789_")) {
    size_t i = 1;
    while (i < s.size() && (IsDigit(s[i]) || s[i] == '_')) ++i;
    return MatchOptionalExponent(s, i) == s.size();
  }
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s == ".inf" || s == ".Inf" || s == ".INF") return true;
  size_t i = MatchDigits(s, 0, /*nonzero_first=*/false);
  if (i == absl::string_view::npos) return false;
  if (i < s.size() && s[i] == ':') {  // Sexagesimal: [0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
    i = MatchSexagesimalGroups(s, i, '.');
    if (i == absl::string_view::npos || i >= s.size() || s[i] != '.') return false;
    return AllOf(s.substr(i + 1), "0123456789_");
  }
  if (i >= s.size() || s[i] != '.') return false;
  ++i;
  while (i < s.size() && (IsDigit(s[i]) || s[i] == '_')) ++i;
  return MatchOptionalExponent(s, i) == s.size();
}

bool IsYamlTimestamp(absl::string_view s) {
  auto digits = [&](size_t& i, size_t min, size_t max) {
    size_t n = 0;
    while (i < s.size() && IsDigit(s[i]) && n < max) ++i, ++n;
    return n >= min;
  };
  size_t i = 0;
  if (!digits(i, 4, 4) || i >= s.size() || s[i++] != '-') return false;
  const size_t month_start = i;
  if (!digits(i, 1, 2) || i >= s.size() || s[i++] != '-') return false;
  const size_t day_start = i;
  if (!digits(i, 1, 2)) return false;
  if (i == s.size()) return day_start - month_start == 3 && i - day_start == 2;  // YYYY-MM-DD
  if (s[i] == 'T' || s[i] == 't') {
    ++i;
  } else if (s[i] == ' ' || s[i] == '\t') {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  } else {
    return false;
  }
  if (!digits(i, 1, 2) || i >= s.size() || s[i++] != ':') return false;
  if (!digits(i, 2, 2) || i >= s.size() || s[i++] != ':') return false;
  if (!digits(i, 2, 2)) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  if (i == s.size()) return true;
  if (s[i] == 'Z') return i + 1 == s.size();
  if (s[i] != '-' && s[i] != '+') return false;
  ++i;
  if (!digits(i, 1, 2)) return false;
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!digits(i, 2, 2)) return false;
  }
  return i == s.size();
}

bool IsYamlBool(absl::string_view s, bool& value) {
  static const char* const kTrue[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const char* const kFalse[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off",
                                       "OFF"};
  for (const char* t : kTrue) {
    if (s == t) return value = true;
  }
  for (const char* f : kFalse) {
    if (s == f) {
      value = false;
      return true;
    }
  }
  return false;
}

bool IsYamlNull(absl::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// --- PyYAML constructors ------------------------------------------------------------------------

absl::StatusOr<int64_t> ParseInteger(absl::string_view digits, int base, bool negative,
                                     absl::string_view text) {
  if (digits.empty()) return absl::InvalidArgumentError(absl::StrCat("invalid int '", text, "'"));
  uint64_t v = 0;
  for (char c : digits) {
    int d = IsDigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
    if (d >= base) return absl::InvalidArgumentError(absl::StrCat("invalid int '", text, "'"));
    if (v > (std::numeric_limits<uint64_t>::max() - d) / base) {
      return absl::OutOfRangeError(absl::StrCat("int '", text, "' does not fit in 64 bits"));
    }
    v = v * base + d;
  }
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + negative;
  if (v > limit) return absl::OutOfRangeError(absl::StrCat("int '", text, "' does not fit in 64 bits"));
  return negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

absl::StatusOr<double> PythonFloat(absl::string_view s, absl::string_view text) {
  s = absl::StripAsciiWhitespace(s);
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  const std::string lower = absl::AsciiStrToLower(s);
  double v = 0;
  if (lower == "inf" || lower == "infinity") {
    v = std::numeric_limits<double>::infinity();
  } else if (lower == "nan") {
    v = std::numeric_limits<double>::quiet_NaN();
  } else {
    // Python's float(): digits with an optional '.', optional exponent; no hex, no "nan(...)".
    if (s.empty() || !AllOf(s, "0123456789.eE+-")) {
      return absl::InvalidArgumentError(absl::StrCat("invalid float '", text, "'"));
    }
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ptr != s.data() + s.size() || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid float '", text, "'"));
    }
    if (ec == std::errc::result_out_of_range) v = std::strtod(std::string(s).c_str(), nullptr);
  }
  return negative ? -v : v;
}

}  // namespace

// construct_yaml_int.
absl::StatusOr<Value> ConstructInt(const std::string& text) {
  std::string v = absl::StrReplaceAll(text, {{"_", ""}});
  bool negative = false;
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) {
    negative = v[0] == '-';
    v.erase(0, 1);
  }
  int64_t out = 0;
  if (v == "0") {
    out = 0;
  } else if (v.rfind("0b", 0) == 0) {
    D2X_ASSIGN_OR_RETURN(out, ParseInteger(absl::string_view(v).substr(2), 2, negative, text));
  } else if (v.rfind("0x", 0) == 0) {
    D2X_ASSIGN_OR_RETURN(out, ParseInteger(absl::string_view(v).substr(2), 16, negative, text));
  } else if (!v.empty() && v[0] == '0') {
    D2X_ASSIGN_OR_RETURN(out, ParseInteger(v, 8, negative, text));
  } else if (v.find(':') != std::string::npos) {  // Sexagesimal.
    std::vector<absl::string_view> parts = absl::StrSplit(v, ':');
    __int128 total = 0, base = 1;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      D2X_ASSIGN_OR_RETURN(int64_t d, ParseInteger(*it, 10, false, text));
      constexpr __int128 kMax = std::numeric_limits<int64_t>::max();
      if (d != 0) {
        if (base > kMax) {
          return absl::OutOfRangeError(absl::StrCat("int '", text, "' does not fit in 64 bits"));
        }
        total += d * base;
        if (total > kMax) {
          return absl::OutOfRangeError(absl::StrCat("int '", text, "' does not fit in 64 bits"));
        }
      }
      if (base <= kMax) base *= 60;
    }
    out = static_cast<int64_t>(negative ? -total : total);
  } else {
    D2X_ASSIGN_OR_RETURN(out, ParseInteger(v, 10, negative, text));
  }
  return Value::Int(out);
}

// construct_yaml_float.
absl::StatusOr<Value> ConstructFloat(const std::string& text) {
  std::string v = absl::AsciiStrToLower(absl::StrReplaceAll(text, {{"_", ""}}));
  double sign = 1.0;
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) {
    if (v[0] == '-') sign = -1.0;
    v.erase(0, 1);
  }
  if (v == ".inf") return Value::Float(sign * std::numeric_limits<double>::infinity());
  if (v == ".nan") return Value::Float(std::numeric_limits<double>::quiet_NaN());
  if (v.find(':') != std::string::npos) {  // Sexagesimal, summed as PyYAML does.
    std::vector<absl::string_view> parts = absl::StrSplit(v, ':');
    double total = 0, base = 1;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      D2X_ASSIGN_OR_RETURN(double d, PythonFloat(*it, text));
      total += d * base;
      base *= 60;
    }
    return Value::Float(sign * total);
  }
  D2X_ASSIGN_OR_RETURN(double d, PythonFloat(v, text));
  return Value::Float(sign * d);
}

absl::StatusOr<Value> ConstructBool(const std::string& text) {
  const std::string v = absl::AsciiStrToLower(text);
  if (v == "yes" || v == "true" || v == "on") return Value::Bool(true);
  if (v == "no" || v == "false" || v == "off") return Value::Bool(false);
  return absl::InvalidArgumentError(absl::StrCat("invalid bool '", text, "'"));
}

absl::StatusOr<Value> ResolvePlainScalar(const std::string& text) {
  bool b = false;
  if (IsYamlBool(text, b)) return Value::Bool(b);
  if (IsYamlFloat(text)) return ConstructFloat(text);
  if (IsYamlInt(text)) return ConstructInt(text);
  if (IsYamlNull(text)) return Value::None();
  if (IsYamlTimestamp(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is a YAML timestamp, not a valid config value (quote it)"));
  }
  return Value::String(text);
}

}  // namespace d2x::config::internal
