#include "plugins/arch/panoptic_fpn/caffe2_rewriter.h"

#include <ATen/ATen.h>

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/caffe2_ops/c2_detections.h"
#include "core/caffe2_ops/c2_ops.h"
#include "core/export/detector_io.h"
#include "core/export/detector_traceable.h"
#include "plugins/arch/panoptic_fpn/panoptic_fpn.h"
#include "plugins/arch/panoptic_fpn/rewriter.h"
#include "plugins/arch/rcnn/caffe2_rewriter.h"

namespace d2x::panoptic_fpn {
namespace {

class PanopticFpnCaffe2TraceableModel : public exporting::DetectorTraceableModel {
 public:
  PanopticFpnCaffe2TraceableModel(PanopticFpn& model,
                                  std::unique_ptr<rcnn::RcnnCaffe2Graph> graph)
      : DetectorTraceableModel(graph->fields(), /*panoptic=*/true, graph->input_padding()),
        model_(model),
        graph_(std::move(graph)) {}

  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& inputs) override {
    TORCH_CHECK(inputs.size() == 3, "PanopticFPN (caffe2 flavor): expected 3 inputs, got ",
                inputs.size());
    at::NoGradGuard no_grad;
    const at::Tensor& image_sizes = inputs[1];
    const at::Tensor& output_sizes = inputs[2];
    const at::Tensor data = c2ops::AliasWithName(inputs[0], c2ops::kDataBlob);
    const at::Tensor im_info =
        c2ops::AliasWithName(c2ops::MakeImInfo(image_sizes, output_sizes), c2ops::kImInfoBlob);
    rcnn::RcnnCaffe2Graph::Outputs out = graph_->Run(data, im_info);
    out.net[c2ops::kSemSegBlob] = c2ops::AliasWithName(
        model_.sem_seg_head().Forward(out.features), c2ops::kSemSegBlob);
    const CombineOptions& c = model_.options().combine;
    std::map<std::string, at::Tensor> fields = c2ops::PanopticNetOutputsToFields(
        out.net, image_sizes, output_sizes, graph_->mask_threshold(), graph_->keypoint_columns(),
        c.overlap_threshold, c.stuff_area_thresh, c.instances_score_thresh);
    fields[exporting::kImageSizeOutput] = output_sizes;
    return InOutputOrder(fields);
  }

 private:
  PanopticFpn& model_;
  std::unique_ptr<rcnn::RcnnCaffe2Graph> graph_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TraceableModel>> PanopticFpnRewriterWithCaffe2::Rewrite(
    Model& model, const RewriteOptions& options) {
  if (options.flavor != "caffe2") return PanopticFpnRewriter().Rewrite(model, options);
  auto* panoptic = dynamic_cast<PanopticFpn*>(&model);
  if (panoptic == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the panoptic_fpn rewriter got a ", model.meta_architecture(),
        " model that the panoptic_fpn plugin did not build (PanopticFPN expected)"));
  }
  absl::StatusOr<std::unique_ptr<rcnn::RcnnCaffe2Graph>> graph =
      rcnn::RcnnCaffe2Graph::Create(panoptic->rcnn());
  if (!graph.ok()) return graph.status();
  return std::unique_ptr<TraceableModel>(
      new PanopticFpnCaffe2TraceableModel(*panoptic, *std::move(graph)));
}

}  // namespace d2x::panoptic_fpn
