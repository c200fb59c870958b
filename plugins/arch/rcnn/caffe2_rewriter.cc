#include "plugins/arch/rcnn/caffe2_rewriter.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/caffe2_ops/c2_detections.h"
#include "core/caffe2_ops/c2_ops.h"
#include "core/export/detector_io.h"
#include "core/export/detector_traceable.h"
#include "core/modeling/box2box_transform.h"
#include "core/modeling/poolers.h"
#include "core/ops/ops.h"
#include "plugins/arch/rcnn/generalized_rcnn.h"
#include "plugins/arch/rcnn/rewriter.h"

namespace d2x::rcnn {

// detectron2's Caffe2ROIPooler settings: DistributeFpnProposals + RoIAlign per level.
struct Caffe2PoolerSpec : PoolerSpec {
  int64_t min_level = 2, max_level = 5;
};

namespace {

absl::StatusOr<Caffe2PoolerSpec> MakeSpec(const modeling::RoiPoolerOptions& options,
                                          const std::vector<double>& scales, const char* what) {
  absl::StatusOr<PoolerSpec> base = MakePoolerSpec(options, scales, what);
  if (!base.ok()) return base.status();
  Caffe2PoolerSpec spec;
  static_cast<PoolerSpec&>(spec) = *base;
  spec.min_level = static_cast<int64_t>(std::lround(-std::log2(scales.front())));
  spec.max_level = static_cast<int64_t>(std::lround(-std::log2(scales.back())));
  if (spec.max_level - spec.min_level + 1 != 4) {
    // Caffe2ROIPooler: "Currently DistributeFpnProposals only support 4 levels".
    return absl::UnimplementedError(absl::StrCat(
        what, ": the Caffe2 export needs exactly 4 pooler levels (DistributeFpnProposals has "
        "outputs rois_fpn2..5), got levels ", spec.min_level, "..", spec.max_level));
  }
  return spec;
}

at::Tensor MeanStd(const std::vector<double>& v) {
  return at::tensor(v, at::kFloat).view({1, -1, 1, 1});
}

}  // namespace

absl::StatusOr<std::unique_ptr<RcnnCaffe2Graph>> RcnnCaffe2Graph::Create(GeneralizedRcnn& model) {
  std::unique_ptr<RcnnCaffe2Graph> g(new RcnnCaffe2Graph(model));
  const GeneralizedRcnnOptions& o = model.options();
  const RoiHeadsOptions& heads = model.roi_heads().options();
  const modeling::Rpn& rpn = model.proposal_generator();
  // Caffe2RPN: GenerateProposals decodes with weights (1, 1, 1, 1) and anchors at offset 0.
  for (double w : rpn.box2box_transform().weights()) {
    if (w != 1.0) {
      return absl::UnimplementedError(
          "caffe2 flavor: MODEL.RPN.BBOX_REG_WEIGHTS must be (1, 1, 1, 1) (GenerateProposals has "
          "no weights argument)");
    }
  }
  if (rpn.anchor_generator().offset() != 0.0) {
    return absl::UnimplementedError(
        "caffe2 flavor: MODEL.ANCHOR_GENERATOR.OFFSET must be 0 (GenerateProposals places "
        "anchors at multiples of the stride)");
  }
  const FastRcnnOutputLayers& predictor = model.roi_heads().box_predictor();
  if (predictor.options().use_sigmoid_ce) {
    return absl::UnimplementedError(
        "caffe2 flavor: MODEL.ROI_BOX_HEAD.USE_SIGMOID_CE is not supported");
  }
  g->cell_anchors_ = rpn.anchor_generator().cell_anchors();
  for (int64_t s : rpn.anchor_generator().strides()) {
    g->rpn_scales_.push_back(1.0 / static_cast<double>(s));
  }
  const auto shapes = model.backbone().output_shape();
  std::vector<double> scales;
  for (const std::string& f : heads.in_features) {
    auto it = shapes.find(f);
    if (it == shapes.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MODEL.ROI_HEADS.IN_FEATURES: '", f, "' is not an output of the backbone"));
    }
    scales.push_back(1.0 / static_cast<double>(it->second.stride));
  }
  auto box = MakeSpec(o.box_pooler, scales, "MODEL.ROI_BOX_HEAD");
  if (!box.ok()) return box.status();
  g->box_pooler_ = std::make_unique<Caffe2PoolerSpec>(*box);
  g->net_outputs_ = {c2ops::kBboxNmsBlob, c2ops::kScoreNmsBlob, c2ops::kClassNmsBlob};
  g->fields_ = {"pred_boxes", "pred_classes", "scores"};
  if (heads.mask_on) {
    auto mask = MakeSpec(o.mask_pooler, scales, "MODEL.ROI_MASK_HEAD");
    if (!mask.ok()) return mask.status();
    g->mask_pooler_ = std::make_unique<Caffe2PoolerSpec>(*mask);
    g->net_outputs_.push_back(c2ops::kMaskFcnProbsBlob);
    g->fields_.push_back("pred_masks");
  }
  if (heads.keypoint_on) {
    auto kp = MakeSpec(o.keypoint_pooler, scales, "MODEL.ROI_KEYPOINT_HEAD");
    if (!kp.ok()) return kp.status();
    g->keypoint_pooler_ = std::make_unique<Caffe2PoolerSpec>(*kp);
    g->net_outputs_.push_back(c2ops::kKpsScoreBlob);
    g->fields_.push_back("pred_keypoints");
    g->fields_.push_back("pred_keypoint_heatmaps");
  }
  g->net_outputs_.push_back(c2ops::kBatchSplitsNmsBlob);
  std::sort(g->fields_.begin(), g->fields_.end());
  return g;
}

RcnnCaffe2Graph::RcnnCaffe2Graph(GeneralizedRcnn& model)
    : model_(model),
      pixel_mean_(MeanStd(model.options().pixel_mean)),
      pixel_std_(MeanStd(model.options().pixel_std)),
      keypoint_columns_(at::tensor({0, 1, 3}, at::kLong)) {}
RcnnCaffe2Graph::~RcnnCaffe2Graph() = default;

absl::StatusOr<std::vector<at::Tensor>> RcnnCaffe2Graph::MakeInputs(
    const std::vector<ImageInput>& batch) const {
  return exporting::MakeDetectorInputs(batch, model_.backbone().size_divisibility(),
                                       model_.backbone().square_pad());
}

InputPadding RcnnCaffe2Graph::input_padding() const {
  return {model_.backbone().size_divisibility(), model_.backbone().square_pad()};
}

double RcnnCaffe2Graph::mask_threshold() const { return model_.options().mask_threshold; }

at::Tensor RcnnCaffe2Graph::Pool(const Caffe2PoolerSpec& p, const std::vector<at::Tensor>& x,
                                 const at::Tensor& rois) const {
  auto [l2, l3, l4, l5, restore] = c2ops::DistributeFpnProposals(
      rois, p.canonical_box_size, p.canonical_level, p.max_level, p.min_level);
  const at::Tensor per_level[4] = {l2, l3, l4, l5};
  std::vector<at::Tensor> pooled;
  for (size_t l = 0; l < 4; ++l) {
    pooled.push_back(ops::RoiAlign(x[l], per_level[l], p.scales[l], p.output_height,
                                   p.output_width, p.sampling_ratio, p.aligned));
  }
  return c2ops::BatchPermutation(at::cat(pooled, 0), restore);
}

RcnnCaffe2Graph::Outputs RcnnCaffe2Graph::Run(const at::Tensor& data, const at::Tensor& im_info) {
  at::NoGradGuard no_grad;
  const StandardRoiHeads& heads = model_.roi_heads();
  Outputs out;
  // Caffe2MetaArch._caffe2_preprocess_image: normalization in the graph.
  const at::Tensor normalized = (data - pixel_mean_) / pixel_std_;
  out.features = model_.backbone().Forward(normalized);
  const modeling::FeatureMap& features = out.features;

  // Caffe2RPN._generate_proposals.
  modeling::Rpn& rpn = model_.proposal_generator();
  const modeling::RpnOptions& ro = rpn.options();
  std::vector<at::Tensor> rpn_features;
  for (const std::string& f : ro.in_features) rpn_features.push_back(features.at(f));
  auto [objectness, anchor_deltas] = rpn.rpn_head()->Forward(rpn_features);
  std::vector<at::Tensor> rois_list, probs_list;
  for (size_t l = 0; l < objectness.size(); ++l) {
    auto [rois, probs] = c2ops::GenerateProposals(objectness[l], anchor_deltas[l], im_info,
                                                  cell_anchors_[l], rpn_scales_[l],
                                                  ro.pre_nms_topk, ro.post_nms_topk,
                                                  ro.nms_thresh, ro.min_box_size);
    rois_list.push_back(rois);
    probs_list.push_back(probs);
  }
  at::Tensor proposals;
  if (rois_list.size() == 1) {
    proposals = rois_list[0];
  } else {
    std::vector<at::Tensor> input_list = rois_list;
    input_list.insert(input_list.end(), probs_list.begin(), probs_list.end());
    const int64_t min_level = 2, max_level = min_level + static_cast<int64_t>(rois_list.size()) - 1;
    proposals = c2ops::CollectRpnProposals(input_list, max_level, min_level, ro.post_nms_topk);
  }

  // Box head + caffe2_fast_rcnn_outputs_inference.
  std::vector<at::Tensor> in;
  for (const std::string& f : heads.options().in_features) in.push_back(features.at(f));
  const at::Tensor box_features = heads.box_head().Forward(Pool(*box_pooler_, in, proposals));
  const FastRcnnOutputLayers::Predictions predictions =
      heads.box_predictor().Forward(box_features);
  const BoxPredictorOptions& bp = heads.box_predictor().options();
  const at::Tensor class_prob = at::softmax(predictions.scores, -1);
  auto [pred_bbox, batch_splits] =
      c2ops::BBoxTransform(proposals, predictions.deltas, im_info,
                           {bp.bbox_reg_weights[0], bp.bbox_reg_weights[1],
                            bp.bbox_reg_weights[2], bp.bbox_reg_weights[3]},
                           /*apply_scale=*/true);
  const bool cls_agnostic = predictions.deltas.size(1) == 4;
  auto [score_nms, bbox_nms, class_nms, batch_splits_nms, keeps, keeps_size] =
      c2ops::BoxWithNmsLimit(class_prob, pred_bbox, batch_splits, bp.score_thresh,
                             bp.nms_thresh, bp.detections_per_image, cls_agnostic);
  std::map<std::string, at::Tensor>& net = out.net;
  net[c2ops::kBboxNmsBlob] = c2ops::AliasWithName(bbox_nms, c2ops::kBboxNmsBlob);
  net[c2ops::kScoreNmsBlob] = c2ops::AliasWithName(score_nms, c2ops::kScoreNmsBlob);
  net[c2ops::kClassNmsBlob] = c2ops::AliasWithName(class_nms, c2ops::kClassNmsBlob);

  if (mask_pooler_ || keypoint_pooler_) {
    // The detections as ROIPooler boxes: (image index, x1, y1, x2, y2).
    const at::Tensor ids = c2ops::LengthsToSegmentIds(batch_splits_nms.to(at::kInt));
    const at::Tensor rois =
        at::cat({ids.to(at::kFloat).unsqueeze(1), net[c2ops::kBboxNmsBlob]}, 1);
    if (mask_pooler_) {
      const at::Tensor logits = heads.mask_head().Forward(Pool(*mask_pooler_, in, rois));
      net[c2ops::kMaskFcnProbsBlob] =
          c2ops::AliasWithName(logits.sigmoid(), c2ops::kMaskFcnProbsBlob);
    }
    if (keypoint_pooler_) {
      // Raw heatmaps (MODEL.ROI_KEYPOINT_HEAD's default, no HeatmapMaxKeypoint in the net).
      const at::Tensor heatmaps =
          heads.keypoint_head().Forward(Pool(*keypoint_pooler_, in, rois));
      net[c2ops::kKpsScoreBlob] = c2ops::AliasWithName(heatmaps, c2ops::kKpsScoreBlob);
    }
  }
  net[c2ops::kBatchSplitsNmsBlob] =
      c2ops::AliasWithName(batch_splits_nms, c2ops::kBatchSplitsNmsBlob);
  return out;
}

namespace {

class RcnnCaffe2TraceableModel : public exporting::DetectorTraceableModel {
 public:
  explicit RcnnCaffe2TraceableModel(std::unique_ptr<RcnnCaffe2Graph> graph)
      : DetectorTraceableModel(graph->fields(), /*panoptic=*/false, graph->input_padding()),
        graph_(std::move(graph)) {}

  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& inputs) override {
    TORCH_CHECK(inputs.size() == 3, "R-CNN (caffe2 flavor): expected 3 inputs, got ",
                inputs.size());
    const at::Tensor& image_sizes = inputs[1];
    const at::Tensor& output_sizes = inputs[2];
    const at::Tensor data = c2ops::AliasWithName(inputs[0], c2ops::kDataBlob);
    const at::Tensor im_info =
        c2ops::AliasWithName(c2ops::MakeImInfo(image_sizes, output_sizes), c2ops::kImInfoBlob);
    RcnnCaffe2Graph::Outputs out = graph_->Run(data, im_info);
    std::map<std::string, at::Tensor> fields =
        c2ops::RcnnNetOutputsToFields(out.net, image_sizes, output_sizes,
                                      graph_->mask_threshold(), graph_->keypoint_columns());
    fields[exporting::kImageSizeOutput] = output_sizes;
    return InOutputOrder(fields);
  }

 private:
  std::unique_ptr<RcnnCaffe2Graph> graph_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TraceableModel>> RewriteGeneralizedRcnnCaffe2(
    GeneralizedRcnn& model) {
  absl::StatusOr<std::unique_ptr<RcnnCaffe2Graph>> graph = RcnnCaffe2Graph::Create(model);
  if (!graph.ok()) return graph.status();
  return std::unique_ptr<TraceableModel>(new RcnnCaffe2TraceableModel(*std::move(graph)));
}

absl::StatusOr<std::unique_ptr<TraceableModel>> RcnnRewriterWithCaffe2::Rewrite(
    Model& model, const RewriteOptions& options) {
  if (options.flavor != "caffe2") return RcnnRewriter().Rewrite(model, options);
  auto* rcnn = dynamic_cast<GeneralizedRcnn*>(&model);
  if (rcnn == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the rcnn rewriter got a ", model.meta_architecture(),
        " model that the rcnn plugin did not build (GeneralizedRCNN expected)"));
  }
  return RewriteGeneralizedRcnnCaffe2(*rcnn);
}

}  // namespace d2x::rcnn
