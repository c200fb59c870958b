// manifest.json: what a consumer of an exported artifact needs to know, written beside the model
// files by `d2x export` (docs/EXPORT.md shows an example).
//
//   {"d2x_manifest_version": 1,
//    "format": "torchscript", "method": "tracing", "flavor": "generic",
//    "meta_architecture": "GeneralizedRCNN",
//    "model_file": "model.ts", "files": [...], "required_libraries": ["libd2x_ops.so"],
//    "inputs":  [{"name": "images", "dtype": "float32", "shape": ["N", 3, "H", "W"]}, ...],
//    "outputs": [{"name": "pred_boxes", "dtype": "float32", "shape": ["D", 4]}, ...],
//    "output_schema": {... core/flatten schema JSON of one image's outputs ...},
//    "preprocessing": {"pixel_mean": [...], "pixel_std": [...], "input_format": "BGR",
//                      "size_divisibility": 32, "square_size": 0, "min_size_test": 800,
//                      "max_size_test": 1333},
//    "config_file": "config.yaml", "config_hash": "...", "weights": "...",
//    "versions": {"d2x": "0.1.0", "torch": "1.13.1", "plugins": {"rcnn": "0.1.0", ...}},
//    "trace": {"sample_image_size": [256, 320]},
//    "properties": {... format-specific ...}}
//
// Shapes: an integer is a fixed size, a string names a dynamic dimension.
#ifndef D2X_CORE_EXPORT_MANIFEST_H_
#define D2X_CORE_EXPORT_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::exporting {

inline constexpr char kManifestFile[] = "manifest.json";
inline constexpr char kReportFile[] = "report.json";
inline constexpr char kConfigFile[] = "config.yaml";
inline constexpr int kManifestVersion = 1;

struct TensorSpec {
  std::string name;
  std::string dtype;  // "float32", "int64", "bool", ...
  std::vector<std::variant<int64_t, std::string>> shape;
};

struct Preprocessing {
  std::vector<double> pixel_mean;
  std::vector<double> pixel_std;
  std::string input_format = "BGR";  // INPUT.FORMAT
  int64_t size_divisibility = 0;
  int64_t square_size = 0;
  int64_t min_size_test = 0;  // INPUT.MIN_SIZE_TEST (0: no resize)
  int64_t max_size_test = 0;
};

struct Manifest {
  std::string format;
  std::string method;
  std::string flavor;
  std::string meta_architecture;
  std::string model_file;
  std::vector<std::string> files;
  std::vector<std::string> required_libraries;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::string output_schema_json;  // core/flatten JSON (stored as a JSON object)
  Preprocessing preprocessing;
  std::string config_file;
  std::string config_hash;
  std::string weights;
  std::map<std::string, std::string> versions;         // "d2x", "torch"
  std::map<std::string, std::string> plugin_versions;  // plugin name -> version
  std::vector<int64_t> sample_image_size;              // (height, width) traced at
  std::map<std::string, std::string> properties;

  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;

  // Pretty-printed JSON.
  std::string ToJson() const;
  // Parses and validates (required keys, types); errors name `path` and the key.
  static absl::StatusOr<Manifest> FromJson(const std::string& text,
                                           const std::string& path = kManifestFile);
};

// Reads <artifact_dir>/manifest.json.
absl::StatusOr<Manifest> ReadManifest(const std::string& artifact_dir);

// dtype names as used in manifests ("float32", "int64", "bool", ...).
std::string DtypeName(int8_t scalar_type);

}  // namespace d2x::exporting

#endif  // D2X_CORE_EXPORT_MANIFEST_H_
