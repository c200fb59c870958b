#include "core/modeling/build.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace d2x::modeling {

namespace {

// MODEL.RESNETS.DEFORM_ON_PER_STAGE is a list of bools, which Config has no getter for; read it
// from the config's YAML dump.
absl::StatusOr<std::vector<bool>> DeformOnPerStage(const config::Config& cfg) {
  constexpr char kKey[] = "MODEL.RESNETS.DEFORM_ON_PER_STAGE";
  if (!cfg.Has(kKey)) return std::vector<bool>{false, false, false, false};
  try {
    YAML::Node node = YAML::Load(cfg.ToYaml())["MODEL"]["RESNETS"]["DEFORM_ON_PER_STAGE"];
    if (!node.IsSequence()) {
      return absl::InvalidArgumentError(absl::StrCat(kKey, " must be a list of bools"));
    }
    std::vector<bool> out;
    for (const YAML::Node& item : node) out.push_back(item.as<bool>());
    return out;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(kKey, " must be a list of bools: ", e.what()));
  }
}

// A list of lists of numbers, or one flat list (broadcast by the anchor generator).
absl::StatusOr<std::vector<std::vector<double>>> FloatListOrListList(const config::Config& cfg,
                                                                     const char* key) {
  auto nested = cfg.GetFloatListList(key);
  if (nested.ok()) return nested;
  auto flat = cfg.GetFloatList(key);
  if (flat.ok()) return std::vector<std::vector<double>>{*flat};
  return nested.status();
}

}  // namespace

absl::StatusOr<ResNetConfig> ResNetConfigFromConfig(const config::Config& cfg) {
  ResNetConfig r;
  D2X_ASSIGN_OR_RETURN(std::vector<double> pixel_mean, cfg.GetFloatList("MODEL.PIXEL_MEAN"));
  r.in_channels = static_cast<int64_t>(pixel_mean.size());
  D2X_ASSIGN_OR_RETURN(r.depth, cfg.GetInt("MODEL.RESNETS.DEPTH"));
  D2X_ASSIGN_OR_RETURN(r.out_features, cfg.GetStringList("MODEL.RESNETS.OUT_FEATURES"));
  D2X_ASSIGN_OR_RETURN(r.num_groups, cfg.GetInt("MODEL.RESNETS.NUM_GROUPS"));
  D2X_ASSIGN_OR_RETURN(r.width_per_group, cfg.GetInt("MODEL.RESNETS.WIDTH_PER_GROUP"));
  D2X_ASSIGN_OR_RETURN(r.stem_out_channels, cfg.GetInt("MODEL.RESNETS.STEM_OUT_CHANNELS"));
  D2X_ASSIGN_OR_RETURN(r.res2_out_channels, cfg.GetInt("MODEL.RESNETS.RES2_OUT_CHANNELS"));
  D2X_ASSIGN_OR_RETURN(r.stride_in_1x1, cfg.GetBool("MODEL.RESNETS.STRIDE_IN_1X1"));
  D2X_ASSIGN_OR_RETURN(r.res5_dilation, cfg.GetInt("MODEL.RESNETS.RES5_DILATION"));
  D2X_ASSIGN_OR_RETURN(r.norm, cfg.GetString("MODEL.RESNETS.NORM"));
  D2X_ASSIGN_OR_RETURN(r.deform_on_per_stage, DeformOnPerStage(cfg));
  return r;
}

absl::StatusOr<FpnConfig> FpnConfigFromConfig(const config::Config& cfg) {
  FpnConfig f;
  D2X_ASSIGN_OR_RETURN(f.in_features, cfg.GetStringList("MODEL.FPN.IN_FEATURES"));
  D2X_ASSIGN_OR_RETURN(f.out_channels, cfg.GetInt("MODEL.FPN.OUT_CHANNELS"));
  D2X_ASSIGN_OR_RETURN(f.norm, cfg.GetString("MODEL.FPN.NORM"));
  D2X_ASSIGN_OR_RETURN(f.fuse_type, cfg.GetString("MODEL.FPN.FUSE_TYPE"));
  return f;
}

absl::StatusOr<std::shared_ptr<Backbone>> BuildBackbone(const config::Config& cfg) {
  D2X_ASSIGN_OR_RETURN(std::string name, cfg.GetString("MODEL.BACKBONE.NAME"));
  D2X_ASSIGN_OR_RETURN(ResNetConfig resnet, ResNetConfigFromConfig(cfg));
  if (name == "build_resnet_backbone") {
    D2X_ASSIGN_OR_RETURN(std::shared_ptr<ResNet> net, BuildResNet(resnet));
    return std::shared_ptr<Backbone>(std::move(net));
  }
  if (name == "build_resnet_fpn_backbone" || name == "build_retinanet_resnet_fpn_backbone") {
    D2X_ASSIGN_OR_RETURN(FpnConfig fpn, FpnConfigFromConfig(cfg));
    absl::StatusOr<std::shared_ptr<Fpn>> net = name == "build_resnet_fpn_backbone"
                                                   ? BuildResNetFpnBackbone(resnet, fpn)
                                                   : BuildRetinaNetResNetFpnBackbone(resnet, fpn);
    if (!net.ok()) return net.status();
    return std::shared_ptr<Backbone>(std::move(*net));
  }
  return absl::UnimplementedError(absl::StrCat(
      "MODEL.BACKBONE.NAME '", name,
      "' is not supported by d2x (supported: build_resnet_backbone, build_resnet_fpn_backbone, "
      "build_retinanet_resnet_fpn_backbone)"));
}

absl::StatusOr<AnchorGeneratorOptions> AnchorGeneratorOptionsFromConfig(
    const config::Config& cfg) {
  D2X_ASSIGN_OR_RETURN(std::string name, cfg.GetString("MODEL.ANCHOR_GENERATOR.NAME"));
  if (name != "DefaultAnchorGenerator") {
    return absl::UnimplementedError(absl::StrCat("MODEL.ANCHOR_GENERATOR.NAME '", name,
                                                 "' is not supported (DefaultAnchorGenerator)"));
  }
  AnchorGeneratorOptions a;
  D2X_ASSIGN_OR_RETURN(a.sizes, FloatListOrListList(cfg, "MODEL.ANCHOR_GENERATOR.SIZES"));
  D2X_ASSIGN_OR_RETURN(a.aspect_ratios,
                       FloatListOrListList(cfg, "MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS"));
  D2X_ASSIGN_OR_RETURN(a.offset, cfg.GetFloat("MODEL.ANCHOR_GENERATOR.OFFSET"));
  return a;
}

absl::StatusOr<RpnOptions> RpnOptionsFromConfig(const config::Config& cfg) {
  RpnOptions r;
  D2X_ASSIGN_OR_RETURN(r.in_features, cfg.GetStringList("MODEL.RPN.IN_FEATURES"));
  D2X_ASSIGN_OR_RETURN(r.pre_nms_topk, cfg.GetInt("MODEL.RPN.PRE_NMS_TOPK_TEST"));
  D2X_ASSIGN_OR_RETURN(r.post_nms_topk, cfg.GetInt("MODEL.RPN.POST_NMS_TOPK_TEST"));
  D2X_ASSIGN_OR_RETURN(r.nms_thresh, cfg.GetFloat("MODEL.RPN.NMS_THRESH"));
  D2X_ASSIGN_OR_RETURN(r.min_box_size, cfg.GetFloat("MODEL.PROPOSAL_GENERATOR.MIN_SIZE"));
  D2X_ASSIGN_OR_RETURN(std::vector<double> weights, cfg.GetFloatList("MODEL.RPN.BBOX_REG_WEIGHTS"));
  if (weights.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MODEL.RPN.BBOX_REG_WEIGHTS must have 4 values, got ", weights.size()));
  }
  for (int i = 0; i < 4; ++i) r.bbox_reg_weights[i] = weights[i];
  D2X_ASSIGN_OR_RETURN(r.conv_dims, cfg.GetIntList("MODEL.RPN.CONV_DIMS"));
  D2X_ASSIGN_OR_RETURN(r.anchors, AnchorGeneratorOptionsFromConfig(cfg));
  return r;
}

absl::StatusOr<std::shared_ptr<Rpn>> BuildRpn(const config::Config& cfg,
                                              const std::map<std::string, ShapeSpec>& input_shape) {
  D2X_ASSIGN_OR_RETURN(std::string name, cfg.GetString("MODEL.PROPOSAL_GENERATOR.NAME"));
  if (name != "RPN") {
    return absl::UnimplementedError(absl::StrCat("MODEL.PROPOSAL_GENERATOR.NAME '", name,
                                                 "' is not supported (RPN)"));
  }
  D2X_ASSIGN_OR_RETURN(std::string head, cfg.GetString("MODEL.RPN.HEAD_NAME"));
  if (head != "StandardRPNHead") {
    return absl::UnimplementedError(absl::StrCat("MODEL.RPN.HEAD_NAME '", head,
                                                 "' is not supported (StandardRPNHead)"));
  }
  D2X_ASSIGN_OR_RETURN(RpnOptions options, RpnOptionsFromConfig(cfg));
  return Rpn::Create(options, input_shape);
}

absl::StatusOr<InputOptions> InputOptionsFromConfig(const config::Config& cfg) {
  InputOptions o;
  D2X_ASSIGN_OR_RETURN(o.pixel_mean, cfg.GetFloatList("MODEL.PIXEL_MEAN"));
  D2X_ASSIGN_OR_RETURN(o.pixel_std, cfg.GetFloatList("MODEL.PIXEL_STD"));
  if (o.pixel_mean.size() != o.pixel_std.size() || o.pixel_mean.empty()) {
    return absl::InvalidArgumentError(
        "MODEL.PIXEL_MEAN and MODEL.PIXEL_STD must be non-empty and of equal length");
  }
  D2X_ASSIGN_OR_RETURN(o.format, cfg.GetString("INPUT.FORMAT"));
  D2X_ASSIGN_OR_RETURN(o.min_size_test, cfg.GetInt("INPUT.MIN_SIZE_TEST"));
  D2X_ASSIGN_OR_RETURN(o.max_size_test, cfg.GetInt("INPUT.MAX_SIZE_TEST"));
  return o;
}

}  // namespace d2x::modeling
