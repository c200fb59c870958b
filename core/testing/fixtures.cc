#include "core/testing/fixtures.h"

#include <ATen/ATen.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace d2x::testing {
namespace fs = std::filesystem;

absl::StatusOr<std::string> FixturesDir() {
  const char* dir = std::getenv("D2X_FIXTURES_DIR");
  if (dir == nullptr || *dir == '\0') {
    return absl::FailedPreconditionError(
        "D2X_FIXTURES_DIR is not set: point it at detectron2's golden outputs "
        "(../shared/fixtures; `make test` sets it)");
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("D2X_FIXTURES_DIR=", dir, " is not a directory"));
  }
  return std::string(dir);
}

absl::StatusOr<std::string> FixturePath(const std::string& arch, const std::string& file) {
  absl::StatusOr<std::string> dir = FixturesDir();
  if (!dir.ok()) return dir.status();
  std::string path = absl::StrCat(*dir, "/", arch, "/", file);
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat("fixture ", path, " is missing"));
  return path;
}

namespace {

absl::StatusOr<nlohmann::json> ReadManifest(const std::string& arch) {
  absl::StatusOr<std::string> path = FixturePath(arch, "manifest.json");
  if (!path.ok()) return path.status();
  std::ifstream in(*path);
  nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.contains("tensors")) {
    return absl::DataLossError(absl::StrCat(*path, ": not a fixture manifest"));
  }
  return json;
}

absl::StatusOr<at::ScalarType> ParseDtype(const std::string& dtype) {
  if (dtype == "float32") return at::kFloat;
  if (dtype == "float64") return at::kDouble;
  if (dtype == "int64") return at::kLong;
  if (dtype == "int32") return at::kInt;
  if (dtype == "uint8") return at::kByte;
  if (dtype == "bool") return at::kBool;
  return absl::InvalidArgumentError(absl::StrCat("unknown fixture dtype '", dtype, "'"));
}

}  // namespace

absl::StatusOr<at::Tensor> LoadFixtureTensor(const std::string& arch, const std::string& name) {
  absl::StatusOr<nlohmann::json> manifest = ReadManifest(arch);
  if (!manifest.ok()) return manifest.status();
  for (const nlohmann::json& t : (*manifest)["tensors"]) {
    if (t.value("name", "") != name) continue;
    absl::StatusOr<at::ScalarType> dtype = ParseDtype(t.value("dtype", ""));
    if (!dtype.ok()) return dtype.status();
    std::vector<int64_t> shape = t["shape"].get<std::vector<int64_t>>();
    absl::StatusOr<std::string> path = FixturePath(arch, t.value("file", ""));
    if (!path.ok()) return path.status();
    at::Tensor out = at::empty(shape, at::TensorOptions().dtype(*dtype));
    const size_t bytes = out.numel() * out.element_size();
    std::ifstream in(*path, std::ios::binary);
    in.seekg(0, std::ios::end);
    if (static_cast<size_t>(in.tellg()) != bytes) {
      return absl::DataLossError(absl::StrCat(*path, ": expected ", bytes, " bytes for ", name));
    }
    in.seekg(0);
    in.read(static_cast<char*>(out.data_ptr()), bytes);
    return out;
  }
  return absl::NotFoundError(absl::StrCat("no tensor '", name, "' in ", arch, "/manifest.json"));
}

absl::StatusOr<std::vector<std::string>> FixtureTensorNames(const std::string& arch) {
  absl::StatusOr<nlohmann::json> manifest = ReadManifest(arch);
  if (!manifest.ok()) return manifest.status();
  std::vector<std::string> names;
  for (const nlohmann::json& t : (*manifest)["tensors"]) names.push_back(t.value("name", ""));
  return names;
}

}  // namespace d2x::testing
