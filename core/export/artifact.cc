#include "core/export/artifact.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/export/detector_io.h"
#include "core/util/status_macros.h"

namespace d2x::exporting {
namespace fs = std::filesystem;

absl::Status CheckOutputDir(const std::string& output_dir, bool overwrite) {
  if (output_dir.empty()) return absl::InvalidArgumentError("no output directory given");
  std::error_code ec;
  if (fs::exists(output_dir, ec)) {
    if (!overwrite) {
      return absl::AlreadyExistsError(absl::StrCat(
          "output ", output_dir, " already exists; pass --overwrite to replace it"));
    }
    if (!fs::is_directory(output_dir, ec)) {
      return absl::FailedPreconditionError(
          absl::StrCat("output ", output_dir, " exists and is not a directory"));
    }
  }
  const fs::path parent = fs::absolute(output_dir, ec).parent_path();
  fs::create_directories(parent, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", parent.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CreateStagingDir(const std::string& output_dir) {
  std::error_code ec;
  const fs::path target = fs::absolute(fs::path(output_dir).lexically_normal(), ec);
  std::string name = target.filename().string();
  if (name.empty()) name = target.parent_path().filename().string();
  std::string pattern =
      (target.parent_path() / absl::StrCat(".", name, ".staging-XXXXXX")).string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create a staging directory next to ", output_dir, ": ", std::strerror(errno)));
  }
  return std::string(buffer.data());
}

void RemoveTree(const std::string& dir) {
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
}

absl::Status InstallArtifact(const std::string& staging, const std::string& output_dir,
                             bool overwrite) {
  std::error_code ec;
  std::string aside;
  if (fs::exists(output_dir, ec)) {
    if (!overwrite) {
      return absl::AlreadyExistsError(absl::StrCat(
          "output ", output_dir, " already exists; pass --overwrite to replace it"));
    }
    aside = absl::StrCat(staging, ".old");
    if (std::rename(output_dir.c_str(), aside.c_str()) != 0) {
      return absl::PermissionDeniedError(absl::StrCat("cannot move the existing ", output_dir,
                                                      " aside: ", std::strerror(errno)));
    }
  }
  if (std::rename(staging.c_str(), output_dir.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    if (!aside.empty()) std::rename(aside.c_str(), output_dir.c_str());  // put it back
    return absl::PermissionDeniedError(
        absl::StrCat("cannot move the artifact into ", output_dir, ": ", err));
  }
  RemoveTree(aside);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LoadedArtifact>> LoadedArtifact::Load(
    const plugin::Registry& registry, const std::string& dir) {
  D2X_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(dir));
  const auto* runner_entry = registry.FindRunner(manifest.format);
  if (runner_entry == nullptr) {
    const std::vector<std::string> known = registry.Names(plugin::EntryKind::kRunner);
    return absl::NotFoundError(absl::StrCat(
        "artifact ", dir, " is in format '", manifest.format, "', for which no plugin provides a "
        "runner (available: ", known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
  }
  for (const std::string& file : manifest.files) {
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(dir) / file, ec)) {
      return absl::DataLossError(absl::StrCat("artifact ", dir, ": file '", file,
                                              "' listed in the manifest is missing"));
    }
  }
  std::unique_ptr<Runner> runner = runner_entry->value();
  absl::StatusOr<std::unique_ptr<Session>> session = runner->Load(dir);
  if (!session.ok()) {
    return absl::Status(session.status().code(),
                        absl::StrCat("loading artifact ", dir, ": ", session.status().message()));
  }
  std::unique_ptr<LoadedArtifact> artifact(new LoadedArtifact());
  artifact->dir_ = dir;
  artifact->manifest_ = std::move(manifest);
  artifact->session_ = *std::move(session);
  return artifact;
}

absl::StatusOr<std::vector<at::Tensor>> LoadedArtifact::MakeInputs(
    const std::vector<ImageInput>& batch) const {
  if (manifest_.input_names() != DetectorInputNames()) {
    return absl::UnimplementedError(absl::StrCat(
        "artifact ", dir_, " has inputs (", absl::StrJoin(manifest_.input_names(), ", "),
        "), not the detector contract (images, image_sizes, output_sizes)"));
  }
  return MakeDetectorInputs(batch, manifest_.preprocessing.size_divisibility,
                            manifest_.preprocessing.square_size);
}

absl::StatusOr<std::vector<ImageResult>> LoadedArtifact::Predict(
    const std::vector<ImageInput>& batch) {
  D2X_ASSIGN_OR_RETURN(std::vector<at::Tensor> inputs, MakeInputs(batch));
  D2X_ASSIGN_OR_RETURN(std::vector<at::Tensor> outputs, session_->Run(inputs));
  return DetectorOutputsToResults(outputs, manifest_.output_names());
}

}  // namespace d2x::exporting
