#include "core/export/manifest.h"

#include <c10/core/ScalarType.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace d2x::exporting {
namespace {

using Json = nlohmann::ordered_json;

Json SpecsToJson(const std::vector<TensorSpec>& specs) {
  Json list = Json::array();
  for (const TensorSpec& s : specs) {
    Json shape = Json::array();
    for (const auto& d : s.shape) {
      if (std::holds_alternative<int64_t>(d)) {
        shape.push_back(std::get<int64_t>(d));
      } else {
        shape.push_back(std::get<std::string>(d));
      }
    }
    list.push_back({{"name", s.name}, {"dtype", s.dtype}, {"shape", shape}});
  }
  return list;
}

// Typed access with errors naming the file and key.
class Reader {
 public:
  Reader(const Json& root, std::string path) : root_(root), path_(std::move(path)) {}

  absl::Status Error(const std::string& key, const std::string& what) const {
    return absl::DataLossError(absl::StrCat(path_, ": \"", key, "\" ", what));
  }

  absl::StatusOr<const Json*> Get(const Json& obj, const std::string& key, bool required,
                                  const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (required) return Error(where + key, "is missing");
      return nullptr;
    }
    return &*it;
  }

  absl::Status String(const Json& obj, const std::string& key, bool required, std::string* out,
                      const std::string& where = "") const {
    auto v = Get(obj, key, required, where);
    if (!v.ok()) return v.status();
    if (*v == nullptr) return absl::OkStatus();
    if (!(*v)->is_string()) return Error(where + key, "must be a string");
    *out = (*v)->get<std::string>();
    return absl::OkStatus();
  }

  absl::Status Int(const Json& obj, const std::string& key, int64_t* out,
                   const std::string& where = "") const {
    auto v = Get(obj, key, false, where);
    if (!v.ok()) return v.status();
    if (*v == nullptr) return absl::OkStatus();
    if (!(*v)->is_number_integer()) return Error(where + key, "must be an integer");
    *out = (*v)->get<int64_t>();
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status List(const Json& obj, const std::string& key, bool required, std::vector<T>* out,
                    const std::string& where = "") const {
    auto v = Get(obj, key, required, where);
    if (!v.ok()) return v.status();
    if (*v == nullptr) return absl::OkStatus();
    try {
      *out = (*v)->get<std::vector<T>>();
    } catch (const std::exception&) {
      return Error(where + key, "has the wrong type");
    }
    return absl::OkStatus();
  }

  absl::Status StringMap(const Json& obj, const std::string& key,
                         std::map<std::string, std::string>* out) const {
    auto v = Get(obj, key, false, "");
    if (!v.ok()) return v.status();
    if (*v == nullptr) return absl::OkStatus();
    if (!(*v)->is_object()) return Error(key, "must be an object");
    for (const auto& [k, value] : (*v)->items()) {
      if (value.is_string()) (*out)[k] = value.get<std::string>();
    }
    return absl::OkStatus();
  }

  absl::Status Specs(const std::string& key, std::vector<TensorSpec>* out) const {
    auto v = Get(root_, key, true, "");
    if (!v.ok()) return v.status();
    if (!(*v)->is_array() || (*v)->empty()) return Error(key, "must be a non-empty list");
    for (size_t i = 0; i < (*v)->size(); ++i) {
      const Json& e = (**v)[i];
      const std::string where = absl::StrCat(key, "[", i, "].");
      if (!e.is_object()) return Error(absl::StrCat(key, "[", i, "]"), "must be an object");
      TensorSpec spec;
      if (absl::Status s = String(e, "name", true, &spec.name, where); !s.ok()) return s;
      if (absl::Status s = String(e, "dtype", true, &spec.dtype, where); !s.ok()) return s;
      auto shape = Get(e, "shape", true, where);
      if (!shape.ok()) return shape.status();
      if (!(*shape)->is_array()) return Error(where + "shape", "must be a list");
      for (const Json& d : **shape) {
        if (d.is_number_integer()) {
          spec.shape.emplace_back(d.get<int64_t>());
        } else if (d.is_string()) {
          spec.shape.emplace_back(d.get<std::string>());
        } else {
          return Error(where + "shape", "entries must be integers or dimension names");
        }
      }
      out->push_back(std::move(spec));
    }
    return absl::OkStatus();
  }

 private:
  const Json& root_;
  std::string path_;
};

}  // namespace

std::vector<std::string> Manifest::input_names() const {
  std::vector<std::string> names;
  for (const TensorSpec& s : inputs) names.push_back(s.name);
  return names;
}

std::vector<std::string> Manifest::output_names() const {
  std::vector<std::string> names;
  for (const TensorSpec& s : outputs) names.push_back(s.name);
  return names;
}

std::string Manifest::ToJson() const {
  Json j;
  j["d2x_manifest_version"] = kManifestVersion;
  j["format"] = format;
  j["method"] = method;
  j["flavor"] = flavor;
  j["meta_architecture"] = meta_architecture;
  j["model_file"] = model_file;
  j["files"] = files;
  j["required_libraries"] = required_libraries;
  j["inputs"] = SpecsToJson(inputs);
  j["outputs"] = SpecsToJson(outputs);
  j["output_schema"] = output_schema_json.empty() ? Json() : Json::parse(output_schema_json);
  j["preprocessing"] = {{"pixel_mean", preprocessing.pixel_mean},
                        {"pixel_std", preprocessing.pixel_std},
                        {"input_format", preprocessing.input_format},
                        {"size_divisibility", preprocessing.size_divisibility},
                        {"square_size", preprocessing.square_size},
                        {"min_size_test", preprocessing.min_size_test},
                        {"max_size_test", preprocessing.max_size_test}};
  j["config_file"] = config_file;
  j["config_hash"] = config_hash;
  j["weights"] = weights;
  Json v(versions);
  v["plugins"] = plugin_versions;
  j["versions"] = v;
  j["trace"] = {{"sample_image_size", sample_image_size}};
  j["properties"] = properties;
  return j.dump(2);
}

absl::StatusOr<Manifest> Manifest::FromJson(const std::string& text, const std::string& path) {
  Json root = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": not a JSON object (corrupt manifest?)"));
  }
  Reader r(root, path);
  int64_t version = 0;
  if (absl::Status s = r.Int(root, "d2x_manifest_version", &version); !s.ok()) return s;
  if (version != kManifestVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": d2x_manifest_version is ", version, ", this d2x reads version ", kManifestVersion));
  }
  Manifest m;
  for (auto [key, out, required] :
       std::vector<std::tuple<const char*, std::string*, bool>>{
           {"format", &m.format, true},
           {"method", &m.method, false},
           {"flavor", &m.flavor, false},
           {"meta_architecture", &m.meta_architecture, true},
           {"model_file", &m.model_file, true},
           {"config_file", &m.config_file, false},
           {"config_hash", &m.config_hash, false},
           {"weights", &m.weights, false}}) {
    if (absl::Status s = r.String(root, key, required, out); !s.ok()) return s;
  }
  if (absl::Status s = r.List(root, "files", false, &m.files); !s.ok()) return s;
  if (absl::Status s = r.List(root, "required_libraries", false, &m.required_libraries); !s.ok()) {
    return s;
  }
  if (absl::Status s = r.Specs("inputs", &m.inputs); !s.ok()) return s;
  if (absl::Status s = r.Specs("outputs", &m.outputs); !s.ok()) return s;
  if (auto it = root.find("output_schema"); it != root.end() && !it->is_null()) {
    m.output_schema_json = it->dump();
  }
  if (auto it = root.find("preprocessing"); it != root.end()) {
    if (!it->is_object()) return r.Error("preprocessing", "must be an object");
    Preprocessing& p = m.preprocessing;
    const std::string w = "preprocessing.";
    if (absl::Status s = r.List(*it, "pixel_mean", true, &p.pixel_mean, w); !s.ok()) return s;
    if (absl::Status s = r.List(*it, "pixel_std", true, &p.pixel_std, w); !s.ok()) return s;
    if (absl::Status s = r.String(*it, "input_format", false, &p.input_format, w); !s.ok()) {
      return s;
    }
    for (auto [key, out] : std::vector<std::pair<const char*, int64_t*>>{
             {"size_divisibility", &p.size_divisibility},
             {"square_size", &p.square_size},
             {"min_size_test", &p.min_size_test},
             {"max_size_test", &p.max_size_test}}) {
      if (absl::Status s = r.Int(*it, key, out, w); !s.ok()) return s;
    }
  } else {
    return r.Error("preprocessing", "is missing");
  }
  if (auto it = root.find("versions"); it != root.end() && it->is_object()) {
    for (const auto& [k, value] : it->items()) {
      if (value.is_string()) m.versions[k] = value.get<std::string>();
      if (k == "plugins" && value.is_object()) {
        for (const auto& [pk, pv] : value.items()) {
          if (pv.is_string()) m.plugin_versions[pk] = pv.get<std::string>();
        }
      }
    }
  }
  if (auto it = root.find("trace"); it != root.end() && it->is_object()) {
    if (absl::Status s = r.List(*it, "sample_image_size", false, &m.sample_image_size, "trace.");
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = r.StringMap(root, "properties", &m.properties); !s.ok()) return s;
  return m;
}

absl::StatusOr<Manifest> ReadManifest(const std::string& artifact_dir) {
  const std::string path = (std::filesystem::path(artifact_dir) / kManifestFile).string();
  std::error_code ec;
  if (!std::filesystem::is_directory(artifact_dir, ec)) {
    return absl::NotFoundError(absl::StrCat("artifact ", artifact_dir, ": no such directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        path, ": no manifest (is ", artifact_dir, " a d2x artifact directory?)"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return Manifest::FromJson(buffer.str(), path);
}

std::string DtypeName(int8_t scalar_type) {
  switch (static_cast<c10::ScalarType>(scalar_type)) {
    case c10::ScalarType::Float:
      return "float32";
    case c10::ScalarType::Double:
      return "float64";
    case c10::ScalarType::Half:
      return "float16";
    case c10::ScalarType::Long:
      return "int64";
    case c10::ScalarType::Int:
      return "int32";
    case c10::ScalarType::Byte:
      return "uint8";
    case c10::ScalarType::Bool:
      return "bool";
    default:
      return c10::toString(static_cast<c10::ScalarType>(scalar_type));
  }
}

}  // namespace d2x::exporting
