// Artifact directories: staging and atomic installation, and loading an artifact to run it
// (manifest + the format's Runner) with images in and per-image results out.
#ifndef D2X_CORE_EXPORT_ARTIFACT_H_
#define D2X_CORE_EXPORT_ARTIFACT_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/export/manifest.h"
#include "core/exporter.h"
#include "core/model.h"
#include "core/plugin/registry.h"

namespace d2x::exporting {

// Fails when `output_dir` exists and `overwrite` is false (checked before any work is done), or
// when its parent directory cannot be created.
absl::Status CheckOutputDir(const std::string& output_dir, bool overwrite);

// An empty directory next to `output_dir` (same file system, so installing it is a rename).
absl::StatusOr<std::string> CreateStagingDir(const std::string& output_dir);

// Moves `staging` to `output_dir`. An existing `output_dir` is replaced only with `overwrite`
// (renamed aside first, removed after the new one is in place).
absl::Status InstallArtifact(const std::string& staging, const std::string& output_dir,
                             bool overwrite);

// Removes a directory tree, ignoring errors (cleanup paths).
void RemoveTree(const std::string& dir);

// An artifact loaded through its format's Runner.
class LoadedArtifact {
 public:
  // Reads the manifest, finds the Runner registered for its format and loads the model. Errors
  // name the directory and what is wrong (missing/corrupt manifest or model, no runner, ...).
  static absl::StatusOr<std::unique_ptr<LoadedArtifact>> Load(const plugin::Registry& registry,
                                                              const std::string& dir);

  const std::string& dir() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }
  Session& session() { return *session_; }

  // The flat inputs of the detector contract for `batch`, padded as the manifest says.
  absl::StatusOr<std::vector<at::Tensor>> MakeInputs(const std::vector<ImageInput>& batch) const;

  // Runs the artifact on a batch and returns per-image results (detectron2 Instances fields).
  absl::StatusOr<std::vector<ImageResult>> Predict(const std::vector<ImageInput>& batch);

 private:
  std::string dir_;
  Manifest manifest_;
  std::unique_ptr<Session> session_;
};

}  // namespace d2x::exporting

#endif  // D2X_CORE_EXPORT_ARTIFACT_H_
