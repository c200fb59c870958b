#include "plugins/arch/panoptic_fpn/rewriter.h"

#include <ATen/ATen.h>

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/export/detector_io.h"
#include "core/export/detector_traceable.h"
#include "core/ops/detection_ops.h"
#include "plugins/arch/panoptic_fpn/panoptic_fpn.h"
#include "plugins/arch/rcnn/rewriter.h"

namespace d2x::panoptic_fpn {
namespace {

// The output schema is the instances part (detectron2's InstancesSchema); the panoptic outputs are
// described by the I/O contract (detector_io.h).
class PanopticFpnTraceableModel : public exporting::DetectorTraceableModel {
 public:
  PanopticFpnTraceableModel(PanopticFpn& model, std::unique_ptr<rcnn::RcnnExportGraph> graph)
      : DetectorTraceableModel(graph->fields(), /*panoptic=*/true, graph->input_padding()),
        model_(model),
        graph_(std::move(graph)) {}

  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& inputs) override {
    at::NoGradGuard no_grad;
    rcnn::RcnnExportGraph::Outputs out = graph_->Run(inputs);
    const at::Tensor& image_sizes = inputs[1];
    const at::Tensor& output_sizes = inputs[2];
    at::Tensor logits = model_.sem_seg_head().Forward(out.features);
    at::Tensor sem_seg = ops::SemSegPostprocess(logits, image_sizes, output_sizes);
    const CombineOptions& c = model_.options().combine;
    auto [panoptic_seg, segments_info, segments_score, num_segments] = ops::PanopticCombine(
        out.fields.at("scores"), out.fields.at("pred_classes"), out.fields.at("pred_masks"),
        out.batch_index, sem_seg, output_sizes, c.overlap_threshold, c.stuff_area_thresh,
        c.instances_score_thresh);
    std::map<std::string, at::Tensor> named = std::move(out.fields);
    named[exporting::kImageSizeOutput] = output_sizes;
    named[exporting::kNumInstancesOutput] = out.num_instances;
    named[exporting::kSemSegOutput] = sem_seg;
    named[exporting::kPanopticSegOutput] = panoptic_seg;
    named[exporting::kSegmentsInfoOutput] = segments_info;
    named[exporting::kSegmentsScoreOutput] = segments_score;
    named[exporting::kNumSegmentsOutput] = num_segments;
    return InOutputOrder(named);
  }

 private:
  PanopticFpn& model_;
  std::unique_ptr<rcnn::RcnnExportGraph> graph_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TraceableModel>> PanopticFpnRewriter::Rewrite(
    Model& model, const RewriteOptions& options) {
  if (options.flavor != "generic") {
    return absl::UnimplementedError(absl::StrCat(
        "PanopticFPN: rewrite flavor '", options.flavor,
        "' is not implemented (the panoptic_fpn plugin supports: generic)"));
  }
  auto* panoptic = dynamic_cast<PanopticFpn*>(&model);
  if (panoptic == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the panoptic_fpn rewriter got a ", model.meta_architecture(),
        " model that the panoptic_fpn plugin did not build (PanopticFPN expected)"));
  }
  absl::StatusOr<std::unique_ptr<rcnn::RcnnExportGraph>> graph =
      rcnn::RcnnExportGraph::Create(panoptic->rcnn());
  if (!graph.ok()) return graph.status();
  return std::unique_ptr<TraceableModel>(
      new PanopticFpnTraceableModel(*panoptic, *std::move(graph)));
}

}  // namespace d2x::panoptic_fpn
