// Files the d2x tool ships with and finds at run time: the d2x ops library that exported
// TorchScript artifacts carry, the artifact checker `d2x doctor --artifact` runs in a child
// process, and the bundled default model (models/mask_rcnn_small) that `d2x export` exports when
// no --config is given.
//
// Lookup: the Bazel runfiles of the binary first (bazel run / bazel-bin), then, for an installed
// tool, <directory of the binary>/<install path>.
#ifndef D2X_TOOLS_D2X_BUNDLED_FILES_H_
#define D2X_TOOLS_D2X_BUNDLED_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace d2x::tool {

// libd2x_ops.so (runfiles d2x/core/ops/libd2x_ops.so; installed: <bin dir>/libd2x_ops.so).
absl::StatusOr<std::string> OpsLibraryPath(const std::string& argv0);

// d2x_artifact_check (runfiles d2x/tools/d2x/d2x_artifact_check; installed: <bin dir>/...).
absl::StatusOr<std::string> ArtifactCheckPath(const std::string& argv0);

// A file of the bundled model, e.g. "config.yaml" (runfiles d2x/models/mask_rcnn_small/<file>;
// installed: <bin dir>/models/mask_rcnn_small/<file>).
absl::StatusOr<std::string> BundledModelFile(const std::string& argv0, const std::string& file);

}  // namespace d2x::tool

#endif  // D2X_TOOLS_D2X_BUNDLED_FILES_H_
