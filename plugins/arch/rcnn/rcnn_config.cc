#include "plugins/arch/rcnn/rcnn_config.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace d2x::rcnn {
namespace {

absl::Status Expect(const config::Config& config, const char* key,
                    const std::vector<std::string>& supported) {
  D2X_ASSIGN_OR_RETURN(std::string value, config.GetString(key));
  for (const std::string& s : supported) {
    if (value == s) return absl::OkStatus();
  }
  std::string list;
  for (const std::string& s : supported) absl::StrAppend(&list, list.empty() ? "" : ", ", s);
  return absl::UnimplementedError(absl::StrCat(key, " = '", value,
                                               "' is not supported by the rcnn plugin (supported: ",
                                               list, ")"));
}

absl::StatusOr<std::array<double, 4>> Weights4(const config::Config& config, const char* key) {
  D2X_ASSIGN_OR_RETURN(std::vector<double> w, config.GetFloatList(key));
  if (w.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": expected 4 weights (dx, dy, dw, dh), got ", w.size()));
  }
  return std::array<double, 4>{w[0], w[1], w[2], w[3]};
}

absl::StatusOr<modeling::RoiPoolerOptions> Pooler(const config::Config& config,
                                                  const std::string& head) {
  modeling::RoiPoolerOptions p;
  D2X_ASSIGN_OR_RETURN(int64_t resolution,
                       config.GetInt(absl::StrCat("MODEL.", head, ".POOLER_RESOLUTION")));
  p.output_height = p.output_width = resolution;
  D2X_ASSIGN_OR_RETURN(p.sampling_ratio,
                       config.GetInt(absl::StrCat("MODEL.", head, ".POOLER_SAMPLING_RATIO")));
  D2X_ASSIGN_OR_RETURN(p.pooler_type,
                       config.GetString(absl::StrCat("MODEL.", head, ".POOLER_TYPE")));
  if (p.pooler_type.empty()) {
    return absl::UnimplementedError(absl::StrCat(
        "MODEL.", head, ".POOLER_TYPE is empty (heads on whole feature maps) — not supported"));
  }
  return p;
}

}  // namespace

absl::StatusOr<GeneralizedRcnnOptions> ReadGeneralizedRcnnOptions(const config::Config& cfg) {
  GeneralizedRcnnOptions o;
  D2X_RETURN_IF_ERROR(Expect(cfg, "MODEL.META_ARCHITECTURE", {"GeneralizedRCNN"}));
  D2X_RETURN_IF_ERROR(Expect(cfg, "MODEL.BACKBONE.NAME", {"build_resnet_fpn_backbone"}));
  D2X_RETURN_IF_ERROR(Expect(cfg, "MODEL.PROPOSAL_GENERATOR.NAME", {"RPN"}));
  D2X_RETURN_IF_ERROR(Expect(cfg, "MODEL.RPN.HEAD_NAME", {"StandardRPNHead"}));
  D2X_RETURN_IF_ERROR(Expect(cfg, "MODEL.ANCHOR_GENERATOR.NAME", {"DefaultAnchorGenerator"}));
  D2X_RETURN_IF_ERROR(Expect(cfg, "MODEL.ROI_HEADS.NAME", {"StandardROIHeads"}));
  D2X_RETURN_IF_ERROR(Expect(cfg, "MODEL.ROI_BOX_HEAD.NAME", {"FastRCNNConvFCHead"}));

  D2X_ASSIGN_OR_RETURN(o.pixel_mean, cfg.GetFloatList("MODEL.PIXEL_MEAN"));
  D2X_ASSIGN_OR_RETURN(o.pixel_std, cfg.GetFloatList("MODEL.PIXEL_STD"));

  // Backbone: MODEL.RESNETS.*, MODEL.FPN.*.
  modeling::ResNetConfig& r = o.resnet;
  D2X_ASSIGN_OR_RETURN(r.depth, cfg.GetInt("MODEL.RESNETS.DEPTH"));
  D2X_ASSIGN_OR_RETURN(r.out_features, cfg.GetStringList("MODEL.RESNETS.OUT_FEATURES"));
  D2X_ASSIGN_OR_RETURN(r.num_groups, cfg.GetInt("MODEL.RESNETS.NUM_GROUPS"));
  D2X_ASSIGN_OR_RETURN(r.width_per_group, cfg.GetInt("MODEL.RESNETS.WIDTH_PER_GROUP"));
  D2X_ASSIGN_OR_RETURN(r.stem_out_channels, cfg.GetInt("MODEL.RESNETS.STEM_OUT_CHANNELS"));
  D2X_ASSIGN_OR_RETURN(r.res2_out_channels, cfg.GetInt("MODEL.RESNETS.RES2_OUT_CHANNELS"));
  D2X_ASSIGN_OR_RETURN(r.stride_in_1x1, cfg.GetBool("MODEL.RESNETS.STRIDE_IN_1X1"));
  D2X_ASSIGN_OR_RETURN(r.res5_dilation, cfg.GetInt("MODEL.RESNETS.RES5_DILATION"));
  D2X_ASSIGN_OR_RETURN(r.norm, cfg.GetString("MODEL.RESNETS.NORM"));
  // MODEL.RESNETS.DEFORM_ON_PER_STAGE (a list of bools) is not read: Config has no bool-list
  // accessor yet, and the ResNet builder rejects deformable stages anyway.
  modeling::FpnConfig& f = o.fpn;
  D2X_ASSIGN_OR_RETURN(f.in_features, cfg.GetStringList("MODEL.FPN.IN_FEATURES"));
  D2X_ASSIGN_OR_RETURN(f.out_channels, cfg.GetInt("MODEL.FPN.OUT_CHANNELS"));
  D2X_ASSIGN_OR_RETURN(f.norm, cfg.GetString("MODEL.FPN.NORM"));
  D2X_ASSIGN_OR_RETURN(f.fuse_type, cfg.GetString("MODEL.FPN.FUSE_TYPE"));

  // RPN: MODEL.RPN.*, MODEL.PROPOSAL_GENERATOR.MIN_SIZE, MODEL.ANCHOR_GENERATOR.*.
  modeling::RpnOptions& rpn = o.rpn;
  D2X_ASSIGN_OR_RETURN(rpn.in_features, cfg.GetStringList("MODEL.RPN.IN_FEATURES"));
  D2X_ASSIGN_OR_RETURN(rpn.pre_nms_topk, cfg.GetInt("MODEL.RPN.PRE_NMS_TOPK_TEST"));
  D2X_ASSIGN_OR_RETURN(rpn.post_nms_topk, cfg.GetInt("MODEL.RPN.POST_NMS_TOPK_TEST"));
  D2X_ASSIGN_OR_RETURN(rpn.nms_thresh, cfg.GetFloat("MODEL.RPN.NMS_THRESH"));
  D2X_ASSIGN_OR_RETURN(rpn.min_box_size, cfg.GetFloat("MODEL.PROPOSAL_GENERATOR.MIN_SIZE"));
  D2X_ASSIGN_OR_RETURN(rpn.bbox_reg_weights, Weights4(cfg, "MODEL.RPN.BBOX_REG_WEIGHTS"));
  D2X_ASSIGN_OR_RETURN(rpn.conv_dims, cfg.GetIntList("MODEL.RPN.CONV_DIMS"));
  D2X_ASSIGN_OR_RETURN(rpn.anchors.sizes, cfg.GetFloatListList("MODEL.ANCHOR_GENERATOR.SIZES"));
  D2X_ASSIGN_OR_RETURN(rpn.anchors.aspect_ratios,
                       cfg.GetFloatListList("MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS"));
  D2X_ASSIGN_OR_RETURN(rpn.anchors.offset, cfg.GetFloat("MODEL.ANCHOR_GENERATOR.OFFSET"));

  // ROI heads.
  RoiHeadsOptions& h = o.roi_heads;
  D2X_ASSIGN_OR_RETURN(h.in_features, cfg.GetStringList("MODEL.ROI_HEADS.IN_FEATURES"));
  D2X_ASSIGN_OR_RETURN(int64_t num_classes, cfg.GetInt("MODEL.ROI_HEADS.NUM_CLASSES"));

  D2X_ASSIGN_OR_RETURN(h.box_head.num_conv, cfg.GetInt("MODEL.ROI_BOX_HEAD.NUM_CONV"));
  D2X_ASSIGN_OR_RETURN(h.box_head.conv_dim, cfg.GetInt("MODEL.ROI_BOX_HEAD.CONV_DIM"));
  D2X_ASSIGN_OR_RETURN(h.box_head.num_fc, cfg.GetInt("MODEL.ROI_BOX_HEAD.NUM_FC"));
  D2X_ASSIGN_OR_RETURN(h.box_head.fc_dim, cfg.GetInt("MODEL.ROI_BOX_HEAD.FC_DIM"));
  D2X_ASSIGN_OR_RETURN(h.box_head.norm, cfg.GetString("MODEL.ROI_BOX_HEAD.NORM"));
  D2X_ASSIGN_OR_RETURN(o.box_pooler, Pooler(cfg, "ROI_BOX_HEAD"));

  BoxPredictorOptions& p = h.box_predictor;
  p.num_classes = num_classes;
  D2X_ASSIGN_OR_RETURN(p.cls_agnostic_bbox_reg,
                       cfg.GetBool("MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG"));
  D2X_ASSIGN_OR_RETURN(p.use_sigmoid_ce, cfg.GetBool("MODEL.ROI_BOX_HEAD.USE_SIGMOID_CE"));
  D2X_ASSIGN_OR_RETURN(p.bbox_reg_weights, Weights4(cfg, "MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS"));
  D2X_ASSIGN_OR_RETURN(p.score_thresh, cfg.GetFloat("MODEL.ROI_HEADS.SCORE_THRESH_TEST"));
  D2X_ASSIGN_OR_RETURN(p.nms_thresh, cfg.GetFloat("MODEL.ROI_HEADS.NMS_THRESH_TEST"));
  D2X_ASSIGN_OR_RETURN(p.detections_per_image, cfg.GetInt("TEST.DETECTIONS_PER_IMAGE"));

  D2X_ASSIGN_OR_RETURN(h.mask_on, cfg.GetBool("MODEL.MASK_ON"));
  if (h.mask_on) {
    D2X_RETURN_IF_ERROR(Expect(cfg, "MODEL.ROI_MASK_HEAD.NAME", {"MaskRCNNConvUpsampleHead"}));
    h.mask_head.num_classes = num_classes;
    D2X_ASSIGN_OR_RETURN(h.mask_head.num_conv, cfg.GetInt("MODEL.ROI_MASK_HEAD.NUM_CONV"));
    D2X_ASSIGN_OR_RETURN(h.mask_head.conv_dim, cfg.GetInt("MODEL.ROI_MASK_HEAD.CONV_DIM"));
    D2X_ASSIGN_OR_RETURN(h.mask_head.norm, cfg.GetString("MODEL.ROI_MASK_HEAD.NORM"));
    D2X_ASSIGN_OR_RETURN(h.mask_head.cls_agnostic_mask,
                         cfg.GetBool("MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK"));
    D2X_ASSIGN_OR_RETURN(o.mask_pooler, Pooler(cfg, "ROI_MASK_HEAD"));
  }
  D2X_ASSIGN_OR_RETURN(h.keypoint_on, cfg.GetBool("MODEL.KEYPOINT_ON"));
  if (h.keypoint_on) {
    D2X_RETURN_IF_ERROR(
        Expect(cfg, "MODEL.ROI_KEYPOINT_HEAD.NAME", {"KRCNNConvDeconvUpsampleHead"}));
    D2X_ASSIGN_OR_RETURN(h.keypoint_head.conv_dims,
                         cfg.GetIntList("MODEL.ROI_KEYPOINT_HEAD.CONV_DIMS"));
    D2X_ASSIGN_OR_RETURN(h.keypoint_head.num_keypoints,
                         cfg.GetInt("MODEL.ROI_KEYPOINT_HEAD.NUM_KEYPOINTS"));
    D2X_ASSIGN_OR_RETURN(o.keypoint_pooler, Pooler(cfg, "ROI_KEYPOINT_HEAD"));
  }
  return o;
}

absl::StatusOr<std::unique_ptr<Model>> BuildGeneralizedRcnn(const config::Config& config) {
  D2X_ASSIGN_OR_RETURN(GeneralizedRcnnOptions options, ReadGeneralizedRcnnOptions(config));
  D2X_ASSIGN_OR_RETURN(std::unique_ptr<GeneralizedRcnn> model, GeneralizedRcnn::Create(options));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace d2x::rcnn
