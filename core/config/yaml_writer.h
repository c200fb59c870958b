// Writes a Value tree as YAML the way detectron2's cfg.dump() does (yaml.safe_dump, block style,
// sorted keys, 2-space indent, sequences in a mapping not indented, tuples as lists, floats as
// Python's repr). Differences from PyYAML: no &id anchors for shared objects, no line folding of
// long strings, and strings are quoted more conservatively. The output reads back to the same
// values with yaml_reader.h.
//
// Internal to //core/config:config.
#ifndef D2X_CORE_CONFIG_YAML_WRITER_H_
#define D2X_CORE_CONFIG_YAML_WRITER_H_

#include <string>

#include "core/config/value.h"

namespace d2x::config::internal {

// The YAML document for a kNode (ends with a newline; "{}\n" when empty).
std::string DumpYaml(const Value& root);

// One scalar (None, bool, int, float, str) as PyYAML writes it: null, true, 3, 0.001, 1.0e-05,
// .inf, '' ...
std::string FormatYamlScalar(const Value& v);

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_YAML_WRITER_H_
