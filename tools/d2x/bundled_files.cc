#include "tools/d2x/bundled_files.h"

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "tools/cpp/runfiles/runfiles.h"

namespace d2x::tool {
namespace fs = std::filesystem;
using bazel::tools::cpp::runfiles::Runfiles;

namespace {

std::string ExecutableDir(const std::string& argv0) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return (ec ? fs::path(argv0) : self).parent_path().string();
}

absl::StatusOr<std::string> Find(const std::string& argv0, const std::string& runfiles_path,
                                 const std::string& install_path, const char* what) {
  std::string error;
  std::unique_ptr<Runfiles> runfiles(Runfiles::Create(argv0, &error));
  std::error_code ec;
  if (runfiles != nullptr) {
    const std::string path = runfiles->Rlocation(runfiles_path);
    if (!path.empty() && fs::exists(path, ec)) return path;
  }
  const std::string installed = (fs::path(ExecutableDir(argv0)) / install_path).string();
  if (fs::exists(installed, ec)) return installed;
  return absl::NotFoundError(absl::StrCat("cannot find ", what, " (looked in the runfiles for ",
                                          runfiles_path, " and at ", installed, ")"));
}

}  // namespace

absl::StatusOr<std::string> OpsLibraryPath(const std::string& argv0) {
  return Find(argv0, "d2x/core/ops/libd2x_ops.so", "libd2x_ops.so", "the d2x ops library");
}

absl::StatusOr<std::string> ArtifactCheckPath(const std::string& argv0) {
  return Find(argv0, "d2x/tools/d2x/d2x_artifact_check", "d2x_artifact_check",
              "the artifact checker d2x_artifact_check");
}

absl::StatusOr<std::string> BundledModelFile(const std::string& argv0, const std::string& file) {
  return Find(argv0, "d2x/models/mask_rcnn_small/" + file, "models/mask_rcnn_small/" + file,
              "the bundled model");
}

}  // namespace d2x::tool
