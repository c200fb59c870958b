// Reads one YAML config document into a Value tree with the types PyYAML gives it, as detectron2
// loads config files (yaml.safe_load, falling back to yaml.unsafe_load for python tags):
//
// * plain scalars go through YAML 1.1's implicit resolvers (bool yes/no/on/off/true/false, ints
//   with 0x/0b/0 octal/underscores/sexagesimal, floats that need a '.', ~/null), quoted scalars
//   are strings; strings are NOT literal-evaluated here (merging does that, like yacs);
// * tags: !!str !!int !!float !!bool !!null !!seq !!map, !!python/{tuple,list,str,unicode,int,
//   float,bool,none} and !!python/object/apply:eval ["<expression>"] (see python_expr.h); any
//   other tag is an error, so nothing is ever executed;
// * aliases are expanded, `<<` merge keys are honoured, later duplicate keys win;
// * timestamps, non-string keys and multiple documents are errors;
// * work is bounded: nesting depth, values after alias expansion, and parser events (yaml-cpp 0.7
//   loops forever on some malformed inputs).
//
// Internal to //core/config:config.
#ifndef D2X_CORE_CONFIG_YAML_READER_H_
#define D2X_CORE_CONFIG_YAML_READER_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "core/config/value.h"

namespace d2x::config::internal {

// The document's top-level mapping as a kNode (empty for an empty document). `name` (a file
// path) prefixes every message and the origin of each value ("name:line").
absl::StatusOr<Value> ParseYaml(absl::string_view text, const std::string& name);

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_YAML_READER_H_
