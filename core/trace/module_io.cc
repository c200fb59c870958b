#include "core/trace/module_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <torch/script.h>

#include <atomic>
#include <exception>
#include <filesystem>
#include <regex>
#include <string>
#include <system_error>
#include <unordered_map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace d2x::trace {

namespace {

namespace fs = std::filesystem;

// d2x's op library, as built by //core/ops:libd2x_ops.so.
constexpr char kD2xOpsLibrary[] = "libd2x_ops.so";

std::string TempPath(const fs::path& target) {
  static std::atomic<int> counter{0};
  return absl::StrCat(target.string(), ".tmp.", ::getpid(), ".", counter++);
}

absl::Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("SaveModule: cannot reopen ", path));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::DataLossError(absl::StrCat("SaveModule: fsync of ", path, " failed"));
  return absl::OkStatus();
}

// "Unknown builtin op: ns::name." → a status that says which library to load.
absl::Status UnknownOpError(const std::string& path, const std::string& message) {
  static const std::regex kOp(R"(Unknown builtin op: ([A-Za-z0-9_]+)::([A-Za-z0-9_]+))");
  std::smatch m;
  if (!std::regex_search(message, m, kOp)) return absl::OkStatus();
  const std::string ns = m[1];
  const std::string op = absl::StrCat(ns, "::", m[2].str());
  // LibTorch's own line ("Unknown builtin op: ns::name."), without its suggestions.
  const size_t begin = static_cast<size_t>(m.position(0));
  const std::string libtorch = message.substr(begin, message.find('\n', begin) - begin);
  if (ns == "d2x") {
    return absl::FailedPreconditionError(absl::StrCat(
        "LoadModule(", path, "): the module calls the d2x custom op ", op,
        ", which is not registered in this process. Load d2x's op library ", kD2xOpsLibrary,
        " before loading the module: in C++ dlopen(\"", kD2xOpsLibrary,
        "\", RTLD_NOW | RTLD_GLOBAL) (or link //core/ops:ops), in Python torch.ops.load_library(\"",
        kD2xOpsLibrary, "\"). (LibTorch: ", libtorch, ")"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "LoadModule(", path, "): the module calls the custom op ", op,
      ", which is not registered in this process. Load the library that registers the '", ns,
      "' ops (TORCH_LIBRARY(", ns, ", ...)) before loading the module, e.g. dlopen(<library>, "
      "RTLD_NOW | RTLD_GLOBAL) in C++ or torch.ops.load_library(<library>) in Python. "
      "(LibTorch: ",
      libtorch, ")"));
}

bool LooksCorrupt(const std::string& message) {
  for (const char* s : {"PytorchStreamReader", "central directory", "zip archive",
                        "file not found: archive/", "constants.pkl", "data.pkl", "Unpickler",
                        "unpickl", "invalid header"}) {
    if (absl::StrContains(message, s)) return true;
  }
  return false;
}

}  // namespace

absl::Status SaveModule(const torch::jit::Module& module, const std::string& path,
                        const std::map<std::string, std::string>& extra_files) {
  if (path.empty()) return absl::InvalidArgumentError("SaveModule: empty path");
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("SaveModule(", path, "): directory ", dir.string(), " does not exist"));
  }
  if (fs::is_directory(target, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("SaveModule(", path, "): is a directory"));
  }
  const std::string temp = TempPath(target);
  try {
    torch::jit::ExtraFilesMap extra(extra_files.begin(), extra_files.end());
    module.save(temp, extra);
  } catch (const c10::Error& e) {
    fs::remove(temp, ec);
    return absl::InternalError(
        absl::StrCat("SaveModule(", path, "): ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    fs::remove(temp, ec);
    return absl::InternalError(absl::StrCat("SaveModule(", path, "): ", e.what()));
  }
  absl::Status synced = SyncFile(temp);
  if (!synced.ok()) {
    fs::remove(temp, ec);
    return synced;
  }
  fs::rename(temp, target, ec);
  if (ec) {
    fs::remove(temp, ec);
    return absl::InternalError(
        absl::StrCat("SaveModule: cannot rename ", temp, " to ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<torch::jit::Module> LoadModule(const std::string& path,
                                              std::map<std::string, std::string>* extra_files) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("LoadModule: no such file: ", path));
  }
  if (!fs::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("LoadModule(", path, "): not a regular file"));
  }
  std::string message;
  try {
    torch::jit::ExtraFilesMap extra;
    if (extra_files != nullptr) {
      for (const auto& kv : *extra_files) extra.emplace(kv.first, kv.second);
    }
    torch::jit::Module module = torch::jit::load(path, c10::Device(c10::kCPU), extra);
    if (extra_files != nullptr) {
      for (auto& kv : *extra_files) kv.second = extra.at(kv.first);
    }
    return module;
  } catch (const c10::Error& e) {
    message = e.what_without_backtrace();
  } catch (const std::exception& e) {
    message = e.what();
  }
  absl::Status unknown_op = UnknownOpError(path, message);
  if (!unknown_op.ok()) return unknown_op;
  if (LooksCorrupt(message)) {
    return absl::DataLossError(absl::StrCat("LoadModule(", path,
                                            "): not a valid TorchScript archive (corrupt or "
                                            "truncated file?): ",
                                            message));
  }
  return absl::InternalError(absl::StrCat("LoadModule(", path, "): ", message));
}

}  // namespace d2x::trace
