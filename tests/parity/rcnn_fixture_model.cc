#include "tests/parity/rcnn_fixture_model.h"

#include "core/checkpoint/checkpoint.h"
#include "core/checkpoint/state_dict_loader.h"
#include "core/config/config.h"
#include "core/testing/fixtures.h"
#include "core/util/status_macros.h"
#include "plugins/arch/rcnn/rcnn_config.h"

namespace d2x::parity {

absl::StatusOr<std::unique_ptr<rcnn::GeneralizedRcnn>> BuildFixtureModel(
    const std::string& arch, const std::string& weights,
    const std::vector<std::string>& config_overrides) {
  D2X_ASSIGN_OR_RETURN(std::string config_path, testing::FixturePath(arch, "config.yaml"));
  D2X_ASSIGN_OR_RETURN(config::Config cfg, config::Config::FromFile(config_path, config_overrides));
  D2X_ASSIGN_OR_RETURN(rcnn::GeneralizedRcnnOptions options,
                       rcnn::ReadGeneralizedRcnnOptions(cfg));
  D2X_ASSIGN_OR_RETURN(std::unique_ptr<rcnn::GeneralizedRcnn> model,
                       rcnn::GeneralizedRcnn::Create(options));
  D2X_ASSIGN_OR_RETURN(std::string weights_path, testing::FixturePath(arch, weights));
  D2X_ASSIGN_OR_RETURN(checkpoint::Checkpoint ckpt, checkpoint::LoadCheckpoint(weights_path));
  D2X_ASSIGN_OR_RETURN(checkpoint::LoadReport report,
                       checkpoint::LoadIntoModel(ckpt, model->StateDict()));
  (void)report;
  return model;
}

}  // namespace d2x::parity
