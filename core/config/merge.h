// Merging into a config tree with yacs' rules, as detectron2's CfgNode does:
//
// * only existing keys may be set (no config node allows new keys); an unknown key is an error
//   naming it, where it came from, and the closest existing key;
// * every string value is first decoded with ast.literal_eval (python_expr.h) — "(1, 2)" is a
//   tuple, "0.5" a float, "res4" stays a string;
// * the decoded value must have the type of the value it replaces, except that a list may
//   replace a tuple and vice versa (it is converted), and None may replace or be replaced by any
//   non-node value. Nothing else is coerced: an int does not replace a float.
// * files are versioned: a file without VERSION that has MODEL.WEIGHT or TEST.AUG_ON is taken as
//   v1; v0/v1 files are merged into a downgraded config that is then upgraded (detectron2's
//   config/compat.py renames), a version above 2 is an error.
//
// Internal to //core/config:config.
#ifndef D2X_CORE_CONFIG_MERGE_H_
#define D2X_CORE_CONFIG_MERGE_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "core/config/value.h"

namespace d2x::config::internal {

// detectron2's CfgNode.merge_from_file after loading: merges `loaded` (LoadYamlWithBase's result
// for `source`) into `cfg`. On error `cfg` may be partly merged; callers merge into a copy.
absl::Status MergeLoadedFile(Value& cfg, const Value& loaded, const std::string& source);

// yacs' merge_from_list: KEY VALUE pairs, each VALUE decoded with literal_eval.
absl::Status MergeKeyValues(Value& cfg, const std::vector<std::string>& key_values);

// The existing dotted key closest to `key` (edit distance), or "" when `cfg` has no keys.
std::string ClosestKey(const Value& cfg, absl::string_view key);

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_MERGE_H_
