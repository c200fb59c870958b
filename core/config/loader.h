// fvcore's CfgNode.load_yaml_with_base: a config file's mapping with its `_BASE_` files merged
// underneath it, before any type checking.
//
// * `_BASE_` is a file name or a list of file names; relative names are relative to the directory
//   of the including file, "~" is expanded, http(s):// is not supported. With a list, later bases
//   override earlier ones; the including file overrides them all.
// * Mappings merge key by key; any other value replaces. A mapping over a non-mapping from a base
//   is an error ("Cannot inherit key").
// * A file that (indirectly) includes itself is an error naming the chain of files.
//
// Internal to //core/config:config.
#ifndef D2X_CORE_CONFIG_LOADER_H_
#define D2X_CORE_CONFIG_LOADER_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "core/config/value.h"

namespace d2x::config::internal {

// The file at `path`, with its bases. NotFound when a file is missing.
absl::StatusOr<Value> LoadYamlWithBase(const std::string& path);

// `text` as if it were the file `name` (which need not exist; relative bases resolve against its
// directory).
absl::StatusOr<Value> LoadYamlTextWithBase(absl::string_view text, const std::string& name);

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_LOADER_H_
