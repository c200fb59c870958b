#include "core/config/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace d2x::config::internal {

Value Value::Bool(bool v) {
  Value out;
  out.kind = Kind::kBool;
  out.b = v;
  return out;
}

Value Value::Int(int64_t v) {
  Value out;
  out.kind = Kind::kInt;
  out.i = v;
  return out;
}

Value Value::Float(double v) {
  Value out;
  out.kind = Kind::kFloat;
  out.f = v;
  return out;
}

Value Value::String(std::string v) {
  Value out;
  out.kind = Kind::kString;
  out.s = std::move(v);
  return out;
}

Value Value::List(std::vector<Value> v) {
  Value out;
  out.kind = Kind::kList;
  out.items = std::move(v);
  return out;
}

Value Value::Tuple(std::vector<Value> v) {
  Value out;
  out.kind = Kind::kTuple;
  out.items = std::move(v);
  return out;
}

Value Value::Node() {
  Value out;
  out.kind = Kind::kNode;
  return out;
}

const Value* Value::Find(absl::string_view key) const {
  if (kind != Kind::kNode) return nullptr;
  auto it = std::lower_bound(keys.begin(), keys.end(), key);
  if (it == keys.end() || *it != key) return nullptr;
  return &items[it - keys.begin()];
}

Value* Value::Find(absl::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->Find(key));
}

Value& Value::Set(const std::string& key, Value v) {
  auto it = std::lower_bound(keys.begin(), keys.end(), key);
  const size_t index = it - keys.begin();
  if (it != keys.end() && *it == key) {
    items[index] = std::move(v);
  } else {
    keys.insert(it, key);
    items.insert(items.begin() + index, std::move(v));
  }
  return items[index];
}

bool Value::Erase(absl::string_view key) {
  auto it = std::lower_bound(keys.begin(), keys.end(), key);
  if (it == keys.end() || *it != key) return false;
  const size_t index = it - keys.begin();
  keys.erase(it);
  items.erase(items.begin() + index);
  return true;
}

const char* KindName(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kList: return "list";
    case Value::Kind::kTuple: return "tuple";
    case Value::Kind::kNode: return "CfgNode";
  }
  return "?";
}

namespace {

void AppendStringRepr(const std::string& s, std::string& out) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  out.push_back(quote);
  for (unsigned char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == quote) {
          out.push_back('\\');
          out.push_back(static_cast<char>(c));
        } else if (c < 0x20 || c == 0x7f) {
          static const char kHex[] = "0123456789abcdef";
          out += "\\x";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back(quote);
}

void AppendRepr(const Value& v, size_t max_len, std::string& out) {
  if (out.size() > max_len) return;
  switch (v.kind) {
    case Value::Kind::kNone: out += "None"; return;
    case Value::Kind::kBool: out += v.b ? "True" : "False"; return;
    case Value::Kind::kInt: absl::StrAppend(&out, v.i); return;
    case Value::Kind::kFloat: out += FormatPythonFloat(v.f); return;
    case Value::Kind::kString: AppendStringRepr(v.s, out); return;
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      const bool tuple = v.kind == Value::Kind::kTuple;
      out.push_back(tuple ? '(' : '[');
      for (size_t k = 0; k < v.items.size(); ++k) {
        if (k > 0) out += ", ";
        AppendRepr(v.items[k], max_len, out);
        if (out.size() > max_len) return;
      }
      if (tuple && v.items.size() == 1) out.push_back(',');
      out.push_back(tuple ? ')' : ']');
      return;
    }
    case Value::Kind::kNode: {
      out += "CfgNode({";
      for (size_t k = 0; k < v.items.size(); ++k) {
        if (k > 0) out += ", ";
        AppendStringRepr(v.keys[k], out);
        out += ": ";
        AppendRepr(v.items[k], max_len, out);
        if (out.size() > max_len) return;
      }
      out += "})";
      return;
    }
  }
}

}  // namespace

std::string Repr(const Value& v, size_t max_len) {
  std::string out;
  AppendRepr(v, max_len, out);
  if (out.size() > max_len) {
    out.resize(max_len);
    out += "...";
  }
  return out;
}

bool Equal(const Value& a, const Value& b, bool list_equals_tuple) {
  if (a.kind != b.kind && !(list_equals_tuple && a.is_sequence() && b.is_sequence())) {
    return false;
  }
  switch (a.kind) {
    case Value::Kind::kNone: return true;
    case Value::Kind::kBool: return a.b == b.b;
    case Value::Kind::kInt: return a.i == b.i;
    case Value::Kind::kFloat:
      return a.f == b.f ? std::signbit(a.f) == std::signbit(b.f)
                        : (std::isnan(a.f) && std::isnan(b.f));
    case Value::Kind::kString: return a.s == b.s;
    case Value::Kind::kNode:
      if (a.keys != b.keys) return false;
      [[fallthrough]];
    case Value::Kind::kList:
    case Value::Kind::kTuple:
      if (a.items.size() != b.items.size()) return false;
      for (size_t k = 0; k < a.items.size(); ++k) {
        if (!Equal(a.items[k], b.items[k], list_equals_tuple)) return false;
      }
      return true;
  }
  return false;
}

std::string FormatPythonFloat(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
  // Shortest round-trip digits, as "d.ddde+XX".
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  if (ec != std::errc()) return "nan";  // Not reachable for finite doubles.
  std::string sci(buf, end);
  std::string out;
  size_t pos = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    pos = 1;
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (size_t k = pos; k < e; ++k) {
    if (sci[k] != '.') digits.push_back(sci[k]);
  }
  const int exponent = std::atoi(sci.c_str() + e + 1);
  // Python's float_repr_style 'short' with mode 'r': decpt is where the decimal point goes
  // relative to the digits; exponent notation when decpt <= -4 or decpt > 16.
  const int decpt = exponent + 1;
  if (decpt <= -4 || decpt > 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    const int x = decpt - 1;
    out.push_back(x < 0 ? '-' : '+');
    const int ax = x < 0 ? -x : x;
    if (ax < 10) out.push_back('0');
    absl::StrAppend(&out, ax);
    return out;
  }
  if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out += digits;
    out.append(decpt - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, decpt);
    out.push_back('.');
    out.append(digits, decpt, std::string::npos);
  }
  return out;
}

const Value* FindPath(const Value& root, absl::string_view dotted) {
  const Value* cur = &root;
  while (true) {
    const size_t dot = dotted.find('.');
    cur = cur->Find(dotted.substr(0, dot));
    if (cur == nullptr || dot == absl::string_view::npos) return cur;
    dotted.remove_prefix(dot + 1);
  }
}

void CollectKeys(const Value& node, const std::string& prefix, std::vector<std::string>& out) {
  for (size_t k = 0; k < node.keys.size(); ++k) {
    std::string key = prefix.empty() ? node.keys[k] : absl::StrCat(prefix, ".", node.keys[k]);
    if (node.items[k].is_node()) CollectKeys(node.items[k], key, out);
    out.push_back(std::move(key));
  }
}

size_t CountValues(const Value& v) {
  size_t n = 1;
  for (const Value& item : v.items) n += CountValues(item);
  return n;
}

}  // namespace d2x::config::internal
