#include "core/config/yaml_writer.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/config/yaml_scalars.h"

namespace d2x::config::internal {
namespace {

bool ReadsBackAsString(const std::string& s) {
  absl::StatusOr<Value> v = ResolvePlainScalar(s);
  return v.ok() && v->kind == Value::Kind::kString;
}

bool CanBePlain(const std::string& s) {
  if (s.empty() || !ReadsBackAsString(s)) return false;
  if (std::strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) != nullptr) return false;
  if (s.rfind("...", 0) == 0 || s.back() == ' ' || s.back() == ':') return false;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

std::string QuoteString(const std::string& s) {
  if (CanBePlain(s)) return s;
  bool printable = true;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) printable = false;
  }
  if (printable) {
    std::string out = "'";
    for (char c : s) {
      if (c == '\'') out.push_back('\'');
      out.push_back(c);
    }
    out.push_back('\'');
    return out;
  }
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\0': out += "\\0"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          static const char kHex[] = "0123456789ABCDEF";
          out += "\\x";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

bool IsBlockCollection(const Value& v) {
  return (v.is_node() || v.is_sequence()) && !v.items.empty();
}

void EmitMapping(const Value& node, size_t indent, std::vector<std::string>& lines);
void EmitSequence(const Value& seq, size_t indent, std::vector<std::string>& lines);

// A collection that starts on the line of its "- " (nested sequence or mapping in a sequence).
void EmitInSequence(const Value& v, size_t indent, std::vector<std::string>& lines) {
  const size_t first = lines.size();
  if (v.is_node()) {
    EmitMapping(v, indent + 2, lines);
  } else {
    EmitSequence(v, indent + 2, lines);
  }
  lines[first].replace(0, indent + 2, std::string(indent, ' ') + "- ");
}

void EmitMapping(const Value& node, size_t indent, std::vector<std::string>& lines) {
  const std::string pad(indent, ' ');
  for (size_t k = 0; k < node.keys.size(); ++k) {
    const Value& v = node.items[k];
    std::string line = absl::StrCat(pad, QuoteString(node.keys[k]), ":");
    if (!IsBlockCollection(v)) {
      lines.push_back(absl::StrCat(line, " ", FormatYamlScalar(v)));
    } else if (v.is_node()) {
      lines.push_back(std::move(line));
      EmitMapping(v, indent + 2, lines);
    } else {
      lines.push_back(std::move(line));
      EmitSequence(v, indent, lines);  // PyYAML does not indent a sequence inside a mapping.
    }
  }
}

void EmitSequence(const Value& seq, size_t indent, std::vector<std::string>& lines) {
  const std::string pad(indent, ' ');
  for (const Value& item : seq.items) {
    if (IsBlockCollection(item)) {
      EmitInSequence(item, indent, lines);
    } else {
      lines.push_back(absl::StrCat(pad, "- ", FormatYamlScalar(item)));
    }
  }
}

}  // namespace

std::string FormatYamlScalar(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNone: return "null";
    case Value::Kind::kBool: return v.b ? "true" : "false";
    case Value::Kind::kInt: return absl::StrCat(v.i);
    case Value::Kind::kFloat: {
      if (std::isnan(v.f)) return ".nan";
      if (std::isinf(v.f)) return v.f > 0 ? ".inf" : "-.inf";
      std::string s = FormatPythonFloat(v.f);
      if (s.find('.') == std::string::npos) {
        const size_t e = s.find('e');
        if (e != std::string::npos) s.insert(e, ".0");
      }
      return s;
    }
    case Value::Kind::kString: return QuoteString(v.s);
    case Value::Kind::kList:
    case Value::Kind::kTuple: return v.items.empty() ? "[]" : "[...]";
    case Value::Kind::kNode: return v.items.empty() ? "{}" : "{...}";
  }
  return "null";
}

std::string DumpYaml(const Value& root) {
  if (!IsBlockCollection(root)) return FormatYamlScalar(root) + "\n";
  std::vector<std::string> lines;
  if (root.is_node()) {
    EmitMapping(root, 0, lines);
  } else {
    EmitSequence(root, 0, lines);
  }
  std::string out;
  for (const std::string& line : lines) absl::StrAppend(&out, line, "\n");
  return out;
}

}  // namespace d2x::config::internal
