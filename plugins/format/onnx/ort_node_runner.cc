#include "plugins/format/onnx/ort_node_runner.h"

#include <ATen/ATen.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace d2x::onnx_format {
namespace fs = std::filesystem;
namespace {

absl::StatusOr<std::string> DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return std::string("float32");
    case at::kDouble: return std::string("float64");
    case at::kLong: return std::string("int64");
    case at::kInt: return std::string("int32");
    case at::kBool: return std::string("bool");
    case at::kByte: return std::string("uint8");
    default: return absl::InvalidArgumentError(absl::StrCat("ort: dtype ", c10::toString(t)));
  }
}

absl::StatusOr<at::ScalarType> DtypeOf(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "int64") return at::kLong;
  if (name == "int32") return at::kInt;
  if (name == "bool") return at::kBool;
  if (name == "uint8") return at::kByte;
  return absl::InvalidArgumentError(absl::StrCat("ort: output dtype '", name, "'"));
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''"; else out += c;
  }
  return out + "'";
}

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::string> FindOnnxRuntimeNode(const std::string& start) {
  if (const char* env = std::getenv("D2X_ORT_NODE_DIR"); env != nullptr && *env != '\0') {
    if (fs::is_directory(env)) return std::string(env);
    return absl::NotFoundError(absl::StrCat("$D2X_ORT_NODE_DIR=", env, " is not a directory"));
  }
  std::error_code ec;
  fs::path p = fs::weakly_canonical(start, ec);
  for (; !p.empty(); p = p.parent_path()) {
    const fs::path candidate = p / "node_modules" / "onnxruntime-node";
    if (fs::is_regular_file(candidate / "package.json", ec)) return candidate.string();
    if (p == p.parent_path()) break;
  }
  return absl::NotFoundError(absl::StrCat(
      "ort: node_modules/onnxruntime-node not found above ", start,
      " (run tools/setup.sh: ONNXRUNTIME_NODE_INSTALL=skip npm ci, or set $D2X_ORT_NODE_DIR)"));
}

absl::StatusOr<std::vector<at::Tensor>> RunInOnnxRuntime(
    const OrtNodeConfig& config, const std::string& model_path,
    const std::vector<std::pair<std::string, at::Tensor>>& inputs) {
  char tmpl[] = "/tmp/d2x_ort_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("ort: mkdtemp failed");
  const fs::path dir(tmpl);
  struct Cleanup {
    fs::path d;
    ~Cleanup() { std::error_code ec; fs::remove_all(d, ec); }
  } cleanup{dir};

  nlohmann::json specs = nlohmann::json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const at::Tensor t = inputs[i].second.contiguous().cpu();
    absl::StatusOr<std::string> dtype = DtypeName(t.scalar_type());
    if (!dtype.ok()) return dtype.status();
    const std::string file = absl::StrCat("in_", i, ".bin");
    std::ofstream(dir / file, std::ios::binary)
        .write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    specs.push_back({{"name", inputs[i].first}, {"dtype", *dtype}, {"shape", t.sizes().vec()},
                     {"file", file}});
  }
  std::ofstream(dir / "inputs.json") << specs.dump();

  std::string node = config.node;
  if (const char* env = std::getenv("D2X_NODE"); env != nullptr && *env != '\0') node = env;
  const std::string cmd = absl::StrCat(Quote(node), " ", Quote(config.script), " ",
                                       Quote(config.onnxruntime_node_dir), " ",
                                       Quote(model_path), " ", Quote(dir.string()), " 2>",
                                       Quote((dir / "stderr.txt").string()));
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("ort: `", cmd, "` failed (status ", rc, "): ",
                                            ReadAll(dir / "stderr.txt")));
  }
  nlohmann::json outs;
  try {
    outs = nlohmann::json::parse(ReadAll(dir / "outputs.json"));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("ort: outputs.json: ", e.what()));
  }
  std::vector<at::Tensor> result;
  for (const nlohmann::json& o : outs) {
    absl::StatusOr<at::ScalarType> type = DtypeOf(o.at("dtype").get<std::string>());
    if (!type.ok()) return type.status();
    const std::vector<int64_t> shape = o.at("shape").get<std::vector<int64_t>>();
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(*type));
    const std::string bytes = ReadAll(dir / o.at("file").get<std::string>());
    if (bytes.size() != t.nbytes()) {
      return absl::DataLossError(absl::StrCat("ort: output ", o.at("name").get<std::string>(),
                                              ": ", bytes.size(), " bytes, expected ",
                                              t.nbytes()));
    }
    std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
    result.push_back(t);
  }
  return result;
}

}  // namespace d2x::onnx_format
