#include "plugins/arch/rcnn/rewriter.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/export/detector_io.h"
#include "core/export/detector_traceable.h"
#include "core/modeling/box2box_transform.h"
#include "core/ops/detection_ops.h"
#include "plugins/arch/rcnn/generalized_rcnn.h"

namespace d2x::rcnn {

absl::StatusOr<PoolerSpec> MakePoolerSpec(const modeling::RoiPoolerOptions& options,
                                          const std::vector<double>& scales, const char* what) {
  modeling::RoiPoolerOptions with_scales = options;
  with_scales.scales = scales;
  // Validates exactly as the eager model did when it was built.
  absl::StatusOr<modeling::RoiPooler> pooler = modeling::RoiPooler::Create(with_scales);
  if (!pooler.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", pooler.status().message()));
  }
  PoolerSpec spec;
  spec.scales = scales;
  spec.output_height = options.output_height;
  spec.output_width = options.output_width;
  spec.sampling_ratio = options.sampling_ratio;
  spec.aligned = pooler->aligned();
  spec.canonical_box_size = options.canonical_box_size;
  spec.canonical_level = options.canonical_level;
  return spec;
}

namespace {

at::Tensor Pool(const PoolerSpec& p, const std::vector<at::Tensor>& features,
                const at::Tensor& rois) {
  return ops::MultilevelRoiAlign(features, rois, p.scales, p.output_height, p.output_width,
                                 p.sampling_ratio, p.aligned, p.canonical_box_size,
                                 p.canonical_level);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RcnnExportGraph>> RcnnExportGraph::Create(
    GeneralizedRcnn& model) {
  std::unique_ptr<RcnnExportGraph> t(new RcnnExportGraph(model));
  const GeneralizedRcnnOptions& o = model.options();
  const modeling::Rpn& rpn = model.proposal_generator();
  t->cell_anchors_ = rpn.anchor_generator().cell_anchors();
  t->strides_ = rpn.anchor_generator().strides();
  const auto shapes = model.backbone().output_shape();
  std::vector<double> scales;
  for (const std::string& f : model.roi_heads().options().in_features) {
    auto it = shapes.find(f);
    if (it == shapes.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MODEL.ROI_HEADS.IN_FEATURES: '", f, "' is not an output of the backbone"));
    }
    scales.push_back(1.0 / static_cast<double>(it->second.stride));
  }
  const RoiHeadsOptions& heads = model.roi_heads().options();
  auto box = MakePoolerSpec(o.box_pooler, scales, "MODEL.ROI_BOX_HEAD");
  if (!box.ok()) return box.status();
  t->box_pooler_ = std::make_unique<PoolerSpec>(*box);
  t->fields_ = {"pred_boxes", "pred_classes", "scores"};
  if (heads.mask_on) {
    auto mask = MakePoolerSpec(o.mask_pooler, scales, "MODEL.ROI_MASK_HEAD");
    if (!mask.ok()) return mask.status();
    t->mask_pooler_ = std::make_unique<PoolerSpec>(*mask);
    t->fields_.push_back("pred_masks");
  }
  if (heads.keypoint_on) {
    auto kp = MakePoolerSpec(o.keypoint_pooler, scales, "MODEL.ROI_KEYPOINT_HEAD");
    if (!kp.ok()) return kp.status();
    t->keypoint_pooler_ = std::make_unique<PoolerSpec>(*kp);
    t->fields_.push_back("pred_keypoints");
    t->fields_.push_back("pred_keypoint_heatmaps");
  }
  std::sort(t->fields_.begin(), t->fields_.end());
  return t;
}

RcnnExportGraph::RcnnExportGraph(GeneralizedRcnn& model)
    : model_(model), keypoint_columns_(at::tensor({0, 1, 3}, at::kLong)) {}
RcnnExportGraph::~RcnnExportGraph() = default;

absl::StatusOr<std::vector<at::Tensor>> RcnnExportGraph::MakeInputs(
    const std::vector<ImageInput>& batch) const {
  return exporting::MakeDetectorInputs(batch, model_.backbone().size_divisibility(),
                                       model_.backbone().square_pad());
}

InputPadding RcnnExportGraph::input_padding() const {
  return {model_.backbone().size_divisibility(), model_.backbone().square_pad()};
}

RcnnExportGraph::Outputs RcnnExportGraph::Run(const std::vector<at::Tensor>& inputs) {
  TORCH_CHECK(inputs.size() == 3, "R-CNN traceable model: expected 3 inputs (",
              exporting::kImagesInput, ", ", exporting::kImageSizesInput, ", ",
              exporting::kOutputSizesInput, "), got ", inputs.size());
  at::NoGradGuard no_grad;
  const at::Tensor& images = inputs[0];
  const at::Tensor& image_sizes = inputs[1];
  const at::Tensor& output_sizes = inputs[2];
  const GeneralizedRcnnOptions& o = model_.options();
  const StandardRoiHeads& heads = model_.roi_heads();
  Outputs out;

  // GeneralizedRCNN.preprocess_image + backbone.
  at::Tensor x = ops::NormalizeImages(images, image_sizes, o.pixel_mean, o.pixel_std);
  out.features = model_.backbone().Forward(x);
  const modeling::FeatureMap& features = out.features;

  // RPN: head convs, then anchors + decoding + find_top_rpn_proposals in one op.
  modeling::Rpn& rpn = model_.proposal_generator();
  const modeling::RpnOptions& ro = rpn.options();
  std::vector<at::Tensor> rpn_features;
  for (const std::string& f : ro.in_features) rpn_features.push_back(features.at(f));
  auto [objectness, anchor_deltas] = rpn.rpn_head()->Forward(rpn_features);
  const modeling::Box2BoxTransform& rpn_transform = rpn.box2box_transform();
  auto [rois, rpn_logits] = ops::RpnProposals(
      objectness, anchor_deltas, cell_anchors_, strides_, rpn.anchor_generator().offset(),
      image_sizes, rpn_transform.weights(), rpn_transform.scale_clamp(), ro.nms_thresh,
      ro.pre_nms_topk, ro.post_nms_topk, ro.min_box_size);

  // Box branch.
  std::vector<at::Tensor> in;
  for (const std::string& f : heads.options().in_features) in.push_back(features.at(f));
  at::Tensor box_features = heads.box_head().Forward(Pool(*box_pooler_, in, rois));
  FastRcnnOutputLayers::Predictions predictions = heads.box_predictor().Forward(box_features);
  const BoxPredictorOptions& bp = heads.box_predictor().options();
  auto [boxes, scores, classes, batch_index] = ops::BoxPostprocess(
      predictions.scores, predictions.deltas, rois, image_sizes, bp.bbox_reg_weights,
      modeling::kDefaultScaleClamp, bp.use_sigmoid_ce, bp.score_thresh, bp.nms_thresh,
      bp.detections_per_image);
  auto [out_boxes, scales, keep, num_instances] =
      ops::DetectorPostprocess(boxes, batch_index, image_sizes, output_sizes);

  std::map<std::string, at::Tensor>& fields = out.fields;
  fields["pred_boxes"] = out_boxes.index_select(0, keep);
  fields["scores"] = scores.index_select(0, keep);
  fields["pred_classes"] = classes.index_select(0, keep);
  out.batch_index = batch_index.index_select(0, keep);
  out.num_instances = num_instances;

  // Mask / keypoint branches on the boxes in the coordinates the model saw (as detectron2:
  // predicted before detector_postprocess, filtered and pasted after it).
  const bool mask_on = heads.options().mask_on, keypoint_on = heads.options().keypoint_on;
  if (mask_on || keypoint_on) {
    const at::Tensor det_rois =
        at::cat({batch_index.to(boxes.scalar_type()).unsqueeze(1), boxes}, 1);
    if (mask_on) {
      at::Tensor logits = heads.mask_head().Forward(Pool(*mask_pooler_, in, det_rois));
      at::Tensor probs;  // mask_rcnn_inference: [D, 1, M, M]
      if (logits.size(1) == 1) {
        probs = logits.sigmoid();
      } else {
        at::Tensor index =
            classes.view({-1, 1, 1, 1}).expand({-1, 1, logits.size(2), logits.size(3)});
        probs = logits.gather(1, index).sigmoid();
      }
      fields["pred_masks"] =
          ops::PasteMasks(probs.index_select(0, keep).select(1, 0), fields["pred_boxes"],
                          out.batch_index, output_sizes, o.mask_threshold);
    }
    if (keypoint_on) {
      at::Tensor heatmaps = heads.keypoint_head().Forward(Pool(*keypoint_pooler_, in, det_rois));
      // keypoint_rcnn_inference: (x, y, score) of heatmaps_to_keypoints.
      at::Tensor keypoints = ops::HeatmapsToKeypoints(heatmaps, boxes)
                                 .index_select(2, keypoint_columns_)
                                 .index_select(0, keep);
      // detector_postprocess: x *= scale_x, y *= scale_y.
      at::Tensor xy = keypoints.slice(2, 0, 2) * scales.index_select(0, keep).unsqueeze(1);
      fields["pred_keypoints"] = at::cat({xy, keypoints.slice(2, 2, 3)}, 2);
      fields["pred_keypoint_heatmaps"] = heatmaps.index_select(0, keep);
    }
  }
  return out;
}

namespace {

class RcnnTraceableModel : public exporting::DetectorTraceableModel {
 public:
  explicit RcnnTraceableModel(std::unique_ptr<RcnnExportGraph> graph)
      : DetectorTraceableModel(graph->fields(), /*panoptic=*/false, graph->input_padding()),
        graph_(std::move(graph)) {}

  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& inputs) override {
    RcnnExportGraph::Outputs out = graph_->Run(inputs);
    std::map<std::string, at::Tensor> named = out.fields;
    named[exporting::kImageSizeOutput] = inputs[2];
    named[exporting::kNumInstancesOutput] = out.num_instances;
    return InOutputOrder(named);
  }

 private:
  std::unique_ptr<RcnnExportGraph> graph_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TraceableModel>> RewriteGeneralizedRcnn(
    GeneralizedRcnn& model, const RewriteOptions& options) {
  if (options.flavor != "generic") {
    return absl::UnimplementedError(absl::StrCat(
        "GeneralizedRCNN: rewrite flavor '", options.flavor,
        "' is not implemented (the rcnn plugin supports: generic)"));
  }
  absl::StatusOr<std::unique_ptr<RcnnExportGraph>> graph = RcnnExportGraph::Create(model);
  if (!graph.ok()) return graph.status();
  return std::unique_ptr<TraceableModel>(new RcnnTraceableModel(*std::move(graph)));
}

absl::StatusOr<std::unique_ptr<TraceableModel>> RcnnRewriter::Rewrite(
    Model& model, const RewriteOptions& options) {
  auto* rcnn = dynamic_cast<GeneralizedRcnn*>(&model);
  if (rcnn == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the rcnn rewriter got a ", model.meta_architecture(),
        " model that the rcnn plugin did not build (GeneralizedRCNN expected)"));
  }
  return RewriteGeneralizedRcnn(*rcnn, options);
}

}  // namespace d2x::rcnn
