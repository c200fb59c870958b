#include "tests/parity_dense/dense_fixture_model.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint/checkpoint.h"
#include "core/testing/fixtures.h"
#include "core/util/status_macros.h"

namespace d2x::parity {

absl::StatusOr<config::Config> FixtureConfig(const std::string& arch) {
  D2X_ASSIGN_OR_RETURN(std::string path, testing::FixturePath(arch, "config.yaml"));
  return config::Config::FromFile(path);
}

absl::StatusOr<checkpoint::LoadReport> LoadFixtureWeights(const std::string& arch, Model& model,
                                                          const std::string& weights) {
  D2X_ASSIGN_OR_RETURN(std::string path, testing::FixturePath(arch, weights));
  D2X_ASSIGN_OR_RETURN(checkpoint::Checkpoint ckpt, checkpoint::LoadCheckpoint(path));
  D2X_ASSIGN_OR_RETURN(checkpoint::LoadReport report,
                       checkpoint::LoadIntoModel(ckpt, model.StateDict()));
  if (!report.missing.empty() || !report.unexpected.empty() || !report.shape_mismatch.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": missing [", absl::StrJoin(report.missing, ", "), "], unexpected [",
        absl::StrJoin(report.unexpected, ", "), "], shape mismatch [",
        absl::StrJoin(report.shape_mismatch_details, ", "), "]"));
  }
  return report;
}

}  // namespace d2x::parity
