#include "plugins/arch/retinanet/retinanet_config.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace d2x::retinanet {

absl::StatusOr<modeling::ResNetConfig> ResNetConfigFromConfig(const config::Config& cfg) {
  modeling::ResNetConfig r;
  D2X_ASSIGN_OR_RETURN(std::vector<double> mean, cfg.GetFloatList("MODEL.PIXEL_MEAN"));
  r.in_channels = static_cast<int64_t>(mean.size());
  D2X_ASSIGN_OR_RETURN(r.depth, cfg.GetInt("MODEL.RESNETS.DEPTH"));
  D2X_ASSIGN_OR_RETURN(r.out_features, cfg.GetStringList("MODEL.RESNETS.OUT_FEATURES"));
  D2X_ASSIGN_OR_RETURN(r.num_groups, cfg.GetInt("MODEL.RESNETS.NUM_GROUPS"));
  D2X_ASSIGN_OR_RETURN(r.width_per_group, cfg.GetInt("MODEL.RESNETS.WIDTH_PER_GROUP"));
  D2X_ASSIGN_OR_RETURN(r.stem_out_channels, cfg.GetInt("MODEL.RESNETS.STEM_OUT_CHANNELS"));
  D2X_ASSIGN_OR_RETURN(r.res2_out_channels, cfg.GetInt("MODEL.RESNETS.RES2_OUT_CHANNELS"));
  D2X_ASSIGN_OR_RETURN(r.stride_in_1x1, cfg.GetBool("MODEL.RESNETS.STRIDE_IN_1X1"));
  D2X_ASSIGN_OR_RETURN(r.res5_dilation, cfg.GetInt("MODEL.RESNETS.RES5_DILATION"));
  D2X_ASSIGN_OR_RETURN(r.norm, cfg.GetString("MODEL.RESNETS.NORM"));
  return r;
}

absl::StatusOr<modeling::FpnConfig> FpnConfigFromConfig(const config::Config& cfg) {
  modeling::FpnConfig f;
  D2X_ASSIGN_OR_RETURN(f.in_features, cfg.GetStringList("MODEL.FPN.IN_FEATURES"));
  D2X_ASSIGN_OR_RETURN(f.out_channels, cfg.GetInt("MODEL.FPN.OUT_CHANNELS"));
  D2X_ASSIGN_OR_RETURN(f.norm, cfg.GetString("MODEL.FPN.NORM"));
  D2X_ASSIGN_OR_RETURN(f.fuse_type, cfg.GetString("MODEL.FPN.FUSE_TYPE"));
  return f;
}

absl::StatusOr<RetinaNetOptions> RetinaNetOptionsFromConfig(const config::Config& cfg) {
  RetinaNetOptions o;
  D2X_ASSIGN_OR_RETURN(std::string arch, cfg.GetString("MODEL.META_ARCHITECTURE"));
  if (arch != "RetinaNet") {
    return absl::InvalidArgumentError(
        absl::StrCat("MODEL.META_ARCHITECTURE is '", arch, "', expected 'RetinaNet'"));
  }
  D2X_ASSIGN_OR_RETURN(o.pixel_mean, cfg.GetFloatList("MODEL.PIXEL_MEAN"));
  D2X_ASSIGN_OR_RETURN(o.pixel_std, cfg.GetFloatList("MODEL.PIXEL_STD"));
  D2X_ASSIGN_OR_RETURN(o.backbone_name, cfg.GetString("MODEL.BACKBONE.NAME"));
  D2X_ASSIGN_OR_RETURN(o.resnet, ResNetConfigFromConfig(cfg));
  D2X_ASSIGN_OR_RETURN(o.fpn, FpnConfigFromConfig(cfg));

  D2X_ASSIGN_OR_RETURN(o.in_features, cfg.GetStringList("MODEL.RETINANET.IN_FEATURES"));
  D2X_ASSIGN_OR_RETURN(o.num_classes, cfg.GetInt("MODEL.RETINANET.NUM_CLASSES"));
  D2X_ASSIGN_OR_RETURN(o.num_convs, cfg.GetInt("MODEL.RETINANET.NUM_CONVS"));
  D2X_ASSIGN_OR_RETURN(o.norm, cfg.GetString("MODEL.RETINANET.NORM"));
  D2X_ASSIGN_OR_RETURN(std::vector<double> weights,
                       cfg.GetFloatList("MODEL.RETINANET.BBOX_REG_WEIGHTS"));
  if (weights.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("MODEL.RETINANET.BBOX_REG_WEIGHTS: expected 4 values, got ", weights.size()));
  }
  o.bbox_reg_weights = {weights[0], weights[1], weights[2], weights[3]};
  D2X_ASSIGN_OR_RETURN(o.inference.score_thresh,
                       cfg.GetFloat("MODEL.RETINANET.SCORE_THRESH_TEST"));
  D2X_ASSIGN_OR_RETURN(o.inference.topk_candidates,
                       cfg.GetInt("MODEL.RETINANET.TOPK_CANDIDATES_TEST"));
  D2X_ASSIGN_OR_RETURN(o.inference.nms_thresh, cfg.GetFloat("MODEL.RETINANET.NMS_THRESH_TEST"));
  D2X_ASSIGN_OR_RETURN(o.inference.max_detections, cfg.GetInt("TEST.DETECTIONS_PER_IMAGE"));

  D2X_ASSIGN_OR_RETURN(std::string anchor_name, cfg.GetString("MODEL.ANCHOR_GENERATOR.NAME"));
  if (anchor_name != "DefaultAnchorGenerator") {
    return absl::UnimplementedError(absl::StrCat("MODEL.ANCHOR_GENERATOR.NAME: '", anchor_name,
                                                 "' is not supported (DefaultAnchorGenerator)"));
  }
  D2X_ASSIGN_OR_RETURN(o.anchors.sizes, cfg.GetFloatListList("MODEL.ANCHOR_GENERATOR.SIZES"));
  D2X_ASSIGN_OR_RETURN(o.anchors.aspect_ratios,
                       cfg.GetFloatListList("MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS"));
  D2X_ASSIGN_OR_RETURN(o.anchors.offset, cfg.GetFloat("MODEL.ANCHOR_GENERATOR.OFFSET"));
  return o;
}

absl::StatusOr<std::unique_ptr<Model>> BuildRetinaNet(const config::Config& config) {
  D2X_ASSIGN_OR_RETURN(RetinaNetOptions options, RetinaNetOptionsFromConfig(config));
  D2X_ASSIGN_OR_RETURN(std::unique_ptr<RetinaNet> model, RetinaNet::Create(options));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace d2x::retinanet
