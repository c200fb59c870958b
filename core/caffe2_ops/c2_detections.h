// The Caffe2 net I/O of the "caffe2" rewrite flavor (detectron2's blob names, docs/SPEC.md §A.3)
// and the conversion between it and the detector I/O contract (core/export/detector_io.h):
// im_info from the image sizes, and net outputs -> detections (detector_postprocess, class
// selection of mask probabilities, mask pasting, keypoint decoding) with the d2x ops, as
// detectron2's Caffe2Model.__call__ does in Python. Header-only: the rewriters (inside the traced
// function, so the trace has the detector contract) and the Caffe2 runner (after running the net)
// call the same code.
#ifndef D2X_CORE_CAFFE2_OPS_C2_DETECTIONS_H_
#define D2X_CORE_CAFFE2_OPS_C2_DETECTIONS_H_

#include <ATen/ATen.h>

#include <map>
#include <string>

#include "core/caffe2_ops/c2_ops.h"
#include "core/ops/detection_ops.h"

namespace d2x::c2ops {

// Net inputs.
inline constexpr char kDataBlob[] = "data";        // float [N, 3, Hp, Wp] raw pixels, /32 padded
inline constexpr char kImInfoBlob[] = "im_info";   // float [N, 3] (height, width, scale)
// R-CNN net outputs (detectron2's names; batch_splits_nms is the BoxWithNMSLimit output
// detectron2 leaves internal: d2x returns it so batches > 1 can be split).
inline constexpr char kBboxNmsBlob[] = "bbox_nms";                 // [D, 4]
inline constexpr char kScoreNmsBlob[] = "score_nms";               // [D]
inline constexpr char kClassNmsBlob[] = "class_nms";               // [D] float
inline constexpr char kBatchSplitsNmsBlob[] = "batch_splits_nms";  // [N] float
inline constexpr char kMaskFcnProbsBlob[] = "mask_fcn_probs";      // [D, C, M, M]
inline constexpr char kKpsScoreBlob[] = "kps_score";               // [D, K, S, S]
// PanopticFPN adds the semantic logits.
inline constexpr char kSemSegBlob[] = "sem_seg";  // [N, C, Hp, Wp]

// im_info: (height, width, scale) with Caffe2's (Detectron's) scale, the resize factor from the
// output image to the network input: height / output height. detectron2's
// convert_batched_inputs_to_c2_format writes the inverse (output height / height), which
// BBoxTransform(apply_scale=True) then uses to clip the boxes of a resized image to a wrong
// bound (height^2 / output height); the two agree when the image was not resized.
inline at::Tensor MakeImInfo(const at::Tensor& image_sizes, const at::Tensor& output_sizes) {
  const at::Tensor sizes = image_sizes.to(at::kFloat);
  const at::Tensor scale = sizes.select(1, 0) / output_sizes.select(1, 0).to(at::kFloat);
  return at::cat({sizes, scale.unsqueeze(1)}, 1);
}

// The Instances fields (all images, detector contract) from an R-CNN net's outputs, plus
// "num_instances" and "batch_index" (the image of each kept detection). `keypoint_columns` is
// int64 {0, 1, 3} (made outside any trace).
inline std::map<std::string, at::Tensor> RcnnNetOutputsToFields(
    const std::map<std::string, at::Tensor>& net, const at::Tensor& image_sizes,
    const at::Tensor& output_sizes, double mask_threshold, const at::Tensor& keypoint_columns) {
  std::map<std::string, at::Tensor> fields;
  // BoxWithNMSLimit writes each image's detections class by class; detectron2's eager inference
  // returns them by decreasing score. Sort (stably) per image, so instance indices (e.g. the
  // instance ids of panoptic segments) are the eager ones.
  const at::Tensor unsorted_index =
      LengthsToSegmentIds(net.at(kBatchSplitsNmsBlob).to(at::kInt)).to(at::kLong);
  const at::Tensor key =
      unsorted_index.to(at::kDouble) * 4.0 - net.at(kScoreNmsBlob).to(at::kDouble);
  const at::Tensor order = std::get<1>(at::sort(key, /*stable=*/true, 0, /*descending=*/false));
  const at::Tensor boxes = net.at(kBboxNmsBlob).index_select(0, order);
  const at::Tensor batch_index = unsorted_index.index_select(0, order);
  const at::Tensor classes = net.at(kClassNmsBlob).index_select(0, order).to(at::kLong);
  auto [out_boxes, scales, keep, num_instances] =
      ops::DetectorPostprocess(boxes, batch_index, image_sizes, output_sizes);
  fields["pred_boxes"] = out_boxes.index_select(0, keep);
  fields["scores"] = net.at(kScoreNmsBlob).index_select(0, order).index_select(0, keep);
  fields["pred_classes"] = classes.index_select(0, keep);
  fields["batch_index"] = batch_index.index_select(0, keep);
  fields["num_instances"] = num_instances;
  if (auto it = net.find(kMaskFcnProbsBlob); it != net.end()) {
    const at::Tensor probs = it->second.index_select(0, order);  // [D, C, M, M]
    at::Tensor selected;
    if (probs.size(1) == 1) {
      selected = probs.select(1, 0);
    } else {
      const at::Tensor index =
          classes.view({-1, 1, 1, 1}).expand({-1, 1, probs.size(2), probs.size(3)});
      selected = probs.gather(1, index).select(1, 0);
    }
    fields["pred_masks"] = ops::PasteMasks(selected.index_select(0, keep), fields["pred_boxes"],
                                           fields["batch_index"], output_sizes, mask_threshold);
  }
  if (auto it = net.find(kKpsScoreBlob); it != net.end()) {
    const at::Tensor heatmaps = it->second.index_select(0, order);
    const at::Tensor keypoints = ops::HeatmapsToKeypoints(heatmaps, boxes)
                                     .index_select(2, keypoint_columns)
                                     .index_select(0, keep);
    const at::Tensor xy = keypoints.slice(2, 0, 2) * scales.index_select(0, keep).unsqueeze(1);
    fields["pred_keypoints"] = at::cat({xy, keypoints.slice(2, 2, 3)}, 2);
    fields["pred_keypoint_heatmaps"] = heatmaps.index_select(0, keep);
  }
  return fields;
}

// PanopticFPN: the R-CNN fields plus sem_seg (logits at the output size), panoptic_seg,
// segments_info, segments_score and num_segments (core/export/detector_io.h) from the net's
// sem_seg output, as PanopticFPN's post-processing.
inline std::map<std::string, at::Tensor> PanopticNetOutputsToFields(
    const std::map<std::string, at::Tensor>& net, const at::Tensor& image_sizes,
    const at::Tensor& output_sizes, double mask_threshold, const at::Tensor& keypoint_columns,
    double overlap_threshold, double stuff_area_thresh, double instances_score_thresh) {
  std::map<std::string, at::Tensor> fields =
      RcnnNetOutputsToFields(net, image_sizes, output_sizes, mask_threshold, keypoint_columns);
  const at::Tensor sem_seg = ops::SemSegPostprocess(net.at(kSemSegBlob), image_sizes, output_sizes);
  auto [panoptic_seg, segments_info, segments_score, num_segments] = ops::PanopticCombine(
      fields.at("scores"), fields.at("pred_classes"), fields.at("pred_masks"),
      fields.at("batch_index"), sem_seg, output_sizes, overlap_threshold, stuff_area_thresh,
      instances_score_thresh);
  fields["sem_seg"] = sem_seg;
  fields["panoptic_seg"] = panoptic_seg;
  fields["segments_info"] = segments_info;
  fields["segments_score"] = segments_score;
  fields["num_segments"] = num_segments;
  return fields;
}

}  // namespace d2x::c2ops

#endif  // D2X_CORE_CAFFE2_OPS_C2_DETECTIONS_H_
