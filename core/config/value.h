// The value tree behind d2x::config::Config: a model of the Python objects a detectron2 CfgNode
// holds (None, bool, int, float, str, list, tuple and nested CfgNodes).
//
// Internal to //core/config:config; plugins use config.h only.
#ifndef D2X_CORE_CONFIG_VALUE_H_
#define D2X_CORE_CONFIG_VALUE_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

namespace d2x::config::internal {

struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kList, kTuple, kNode };

  Kind kind = Kind::kNone;
  bool b = false;     // kBool
  int64_t i = 0;      // kInt
  double f = 0.0;     // kFloat
  std::string s;      // kString
  // kList / kTuple: the elements. kNode: the values, parallel to `keys`.
  std::vector<Value> items;
  // kNode only: the keys, sorted (byte order, as Python sorts str keys when dumping).
  std::vector<std::string> keys;
  // Where the value was read ("file.yaml:12"), for error messages. Not part of equality.
  std::string origin;

  static Value None() { return Value(); }
  static Value Bool(bool v);
  static Value Int(int64_t v);
  static Value Float(double v);
  static Value String(std::string v);
  static Value List(std::vector<Value> v);
  static Value Tuple(std::vector<Value> v);
  static Value Node();

  bool is_node() const { return kind == Kind::kNode; }
  bool is_sequence() const { return kind == Kind::kList || kind == Kind::kTuple; }
  bool is_number() const { return kind == Kind::kInt || kind == Kind::kFloat; }

  // kNode: the child `key`, or nullptr.
  const Value* Find(absl::string_view key) const;
  Value* Find(absl::string_view key);
  // kNode: inserts or replaces `key`, keeping keys sorted. Returns the stored value.
  Value& Set(const std::string& key, Value v);
  // kNode: removes `key` if present.
  bool Erase(absl::string_view key);
};

// Python's type name for error messages: "int", "str", "tuple", "CfgNode", ...
const char* KindName(Value::Kind kind);

// Python's repr(), e.g. "'abc'", "(1,)", "[0.5, 1.0]", "None"; cut to about `max_len` characters.
// Always one line.
std::string Repr(const Value& v, size_t max_len = 80);

// Deep equality of kind and value (1 != 1.0; [1] != (1,) unless `list_equals_tuple`); NaN equals
// NaN; origins are ignored.
bool Equal(const Value& a, const Value& b, bool list_equals_tuple = false);

// Python's repr() of a float: the shortest string that round-trips, e.g. "0.001", "1e-05",
// "40.31747359663594", "1e+16", "inf", "nan", "-0.0".
std::string FormatPythonFloat(double v);

// The value at a dotted path ("MODEL.FPN.NORM") under a kNode root, or nullptr.
const Value* FindPath(const Value& root, absl::string_view dotted);

// Every dotted key (nodes and leaves) under a kNode root, e.g. "MODEL", "MODEL.FPN", ...
void CollectKeys(const Value& node, const std::string& prefix, std::vector<std::string>& out);

// Total number of values in the tree (for size limits).
size_t CountValues(const Value& v);

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_VALUE_H_
