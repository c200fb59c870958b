// Building the shared blocks from a detectron2 config (the from_config / build_* functions of
// detectron2): backbones (MODEL.BACKBONE.NAME), the RPN (MODEL.PROPOSAL_GENERATOR / RPN /
// ANCHOR_GENERATOR) and the input settings (MODEL.PIXEL_MEAN/STD, INPUT.*).
//
// Every function returns an error naming the key when a value is missing, of the wrong type or
// unsupported (e.g. a backbone or head name d2x does not implement).
#ifndef D2X_CORE_MODELING_BUILD_H_
#define D2X_CORE_MODELING_BUILD_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/modeling/anchor_generator.h"
#include "core/modeling/backbone.h"
#include "core/modeling/fpn.h"
#include "core/modeling/resnet.h"
#include "core/modeling/rpn.h"

namespace d2x::modeling {

// MODEL.RESNETS.* (+ in_channels = len(MODEL.PIXEL_MEAN)).
absl::StatusOr<ResNetConfig> ResNetConfigFromConfig(const config::Config& cfg);

// MODEL.FPN.*.
absl::StatusOr<FpnConfig> FpnConfigFromConfig(const config::Config& cfg);

// build_backbone(cfg): MODEL.BACKBONE.NAME one of build_resnet_backbone,
// build_resnet_fpn_backbone, build_retinanet_resnet_fpn_backbone.
absl::StatusOr<std::shared_ptr<Backbone>> BuildBackbone(const config::Config& cfg);

// MODEL.ANCHOR_GENERATOR.* (NAME must be DefaultAnchorGenerator). Strides are left empty: they
// come from the feature shapes (Rpn::Create fills them).
absl::StatusOr<AnchorGeneratorOptions> AnchorGeneratorOptionsFromConfig(const config::Config& cfg);

// MODEL.RPN.* (test-time values), MODEL.PROPOSAL_GENERATOR.MIN_SIZE and the anchor options.
absl::StatusOr<RpnOptions> RpnOptionsFromConfig(const config::Config& cfg);

// build_proposal_generator(cfg, input_shape) for MODEL.PROPOSAL_GENERATOR.NAME "RPN" with
// MODEL.RPN.HEAD_NAME "StandardRPNHead".
absl::StatusOr<std::shared_ptr<Rpn>> BuildRpn(const config::Config& cfg,
                                              const std::map<std::string, ShapeSpec>& input_shape);

// What preprocessing needs from the config.
struct InputOptions {
  std::vector<double> pixel_mean;  // MODEL.PIXEL_MEAN
  std::vector<double> pixel_std;   // MODEL.PIXEL_STD
  std::string format = "BGR";      // INPUT.FORMAT: channel order the model expects
  int64_t min_size_test = 800;     // INPUT.MIN_SIZE_TEST (0 = no resize)
  int64_t max_size_test = 1333;    // INPUT.MAX_SIZE_TEST
};
absl::StatusOr<InputOptions> InputOptionsFromConfig(const config::Config& cfg);

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_BUILD_H_
