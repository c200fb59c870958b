// PyYAML's typing of YAML scalars (YAML 1.1, resolver.py and constructor.py), which decides what a
// detectron2 config value is before yacs sees it.
//
// Internal to //core/config:config.
#ifndef D2X_CORE_CONFIG_YAML_SCALARS_H_
#define D2X_CORE_CONFIG_YAML_SCALARS_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/config/value.h"

namespace d2x::config::internal {

// A plain (unquoted, untagged) scalar through the implicit resolvers: bool (yes/no/on/off/
// true/false in three casings), float (needs a '.'; exponent needs a sign; .inf/.nan;
// sexagesimal), int (0b, 0x, 0-prefixed octal, underscores, sexagesimal), null (~, null, empty),
// else str. Timestamps and ints beyond 64 bits are errors (no config value can hold them).
absl::StatusOr<Value> ResolvePlainScalar(const std::string& text);

// construct_yaml_int / construct_yaml_float / construct_yaml_bool, for !!int, !!float, !!bool.
absl::StatusOr<Value> ConstructInt(const std::string& text);
absl::StatusOr<Value> ConstructFloat(const std::string& text);
absl::StatusOr<Value> ConstructBool(const std::string& text);

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_YAML_SCALARS_H_
