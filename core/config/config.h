// detectron2's yacs/fvcore config system (CfgNode) in C++, on yaml-cpp.
//
//   absl::StatusOr<Config> cfg = Config::FromFile("mask_rcnn_R_50_FPN_3x.yaml",
//                                                 {"MODEL.ROI_HEADS.NUM_CLASSES", "3"});
//   absl::StatusOr<int64_t> n = cfg->GetInt("MODEL.ROI_HEADS.NUM_CLASSES");
//
// Semantics follow detectron2 (get_cfg() + merge_from_file + merge_from_list):
// * Defaults() is detectron2/config/defaults.py (v0.6 at the fixtures' commit), VERSION 2.
// * Files are YAML read as PyYAML reads them (YAML 1.1 types, !!python/tuple, and the
//   `!!python/object/apply:eval ["[[x, x * 2**(1.0/3), ...] for x in [32, ...]]"]` of
//   Base-RetinaNet.yaml, evaluated by a safe arithmetic/list-comprehension evaluator, never by
//   running code). `_BASE_` is resolved recursively relative to the including file; cycles are
//   errors.
// * Every string value is decoded with Python's ast.literal_eval rules ("(64, 64)" → tuple,
//   "0.5" → float, "True" → bool, "res4" stays a string). Merged values must keep the type of the
//   value they replace, as yacs checks it: list ↔ tuple converts, None replaces and is replaced
//   by any non-node value, nothing else is coerced (an int does not replace a float, "true" is
//   not a bool). Unknown keys are errors with a "did you mean" suggestion.
// * v0/v1 files (detectron2's old key names) are upgraded as detectron2's config/compat.py does.
// * Merges are atomic here: on error the Config is unchanged (yacs may leave a partial merge).
//
// Every error is a one-line absl::Status naming the file (and line) or the key, and what was
// expected. Nothing throws.
//
// Header-only part of //core/config (plugins depend on //core/config:config_hdrs); the code is in
// //core/config:config, linked once into the d2x binary.
#ifndef D2X_CORE_CONFIG_CONFIG_H_
#define D2X_CORE_CONFIG_CONFIG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace d2x::config {

namespace internal {
struct Value;
}  // namespace internal

class Config {
 public:
  // The complete detectron2 default config (get_cfg()).
  static Config Defaults();
  // Same as Defaults().
  Config();

  // Defaults + the file at `path` (with its _BASE_ chain) + `opts` (KEY VALUE pairs, as
  // MergeFromList). NotFound if a file is missing; InvalidArgument for bad YAML, unknown keys,
  // type mismatches, _BASE_ cycles.
  static absl::StatusOr<Config> FromFile(const std::string& path,
                                         const std::vector<std::string>& opts = {});

  // As FromFile, for YAML text that did not come from a file. `name` stands for the file in
  // messages and relative _BASE_ paths resolve against its directory.
  static absl::StatusOr<Config> FromYamlString(std::string_view text,
                                               const std::string& name = "<string>",
                                               const std::vector<std::string>& opts = {});

  // detectron2's cfg.merge_from_file(path). Sets source() to `path` on success.
  absl::Status MergeFromFile(const std::string& path);
  // As MergeFromFile for YAML text standing for the file `name`.
  absl::Status MergeFromYamlString(std::string_view text, const std::string& name = "<string>");
  // yacs' cfg.merge_from_list: {"KEY", "VALUE", ...}; each VALUE is a Python literal
  // ("0.5", "(64, 64)", "[[32], [64]]", "True", "'a string'") or else taken as a plain string.
  absl::Status MergeFromList(const std::vector<std::string>& key_values);

  // Typed access by dotted key, e.g. "MODEL.ROI_HEADS.NUM_CLASSES". NotFound for a missing key
  // (with a suggestion); InvalidArgument naming the key, the expected and the actual type.
  absl::StatusOr<bool> GetBool(std::string_view key) const;
  absl::StatusOr<int64_t> GetInt(std::string_view key) const;      // int (not bool).
  absl::StatusOr<double> GetFloat(std::string_view key) const;     // float or int.
  absl::StatusOr<std::string> GetString(std::string_view key) const;
  // Lists and tuples alike.
  absl::StatusOr<std::vector<int64_t>> GetIntList(std::string_view key) const;
  absl::StatusOr<std::vector<double>> GetFloatList(std::string_view key) const;  // ints accepted.
  absl::StatusOr<std::vector<std::string>> GetStringList(std::string_view key) const;
  // A list of lists of numbers, e.g. MODEL.ANCHOR_GENERATOR.SIZES / ASPECT_RATIOS.
  absl::StatusOr<std::vector<std::vector<double>>> GetFloatListList(std::string_view key) const;

  // Whether `key` exists (a value or a config node).
  bool Has(std::string_view key) const;
  // Whether the value at `key` is None (e.g. SOLVER.WEIGHT_DECAY_BIAS). False if missing.
  bool IsNone(std::string_view key) const;

  // The resolved config as YAML, like cfg.dump(): sorted keys, block style, tuples as lists,
  // floats as Python's repr. FromYamlString(ToYaml()) gives an equal config.
  std::string ToYaml() const;
  // 16 hex digits: FNV-1a 64 of ToYaml(). Equal configs have equal hashes.
  std::string Hash() const;
  // The last file merged into this config ("" for Defaults()).
  std::string source() const { return source_; }

  // Same keys, same types, same values (1 != 1.0), where a list equals a tuple with the same
  // elements (a dump cannot tell them apart, and yacs converts only the outermost level).
  bool operator==(const Config& other) const;
  bool operator!=(const Config& other) const { return !(*this == other); }

 private:
  explicit Config(std::shared_ptr<const internal::Value> root) : root_(std::move(root)) {}
  absl::Status MergeLoaded(const internal::Value& loaded, const std::string& name);
  absl::StatusOr<const internal::Value*> Lookup(std::string_view key) const;

  std::shared_ptr<const internal::Value> root_;  // Never null; shared between copies.
  std::string source_;
};

}  // namespace d2x::config

#endif  // D2X_CORE_CONFIG_CONFIG_H_
