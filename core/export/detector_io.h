// The I/O contract of exported detectors ("generic" rewrite flavor), shared by architecture
// rewriters (which build inputs for the trace), runners and the d2x commands (which build inputs
// for an artifact and turn its outputs back into per-image results). docs/EXPORT.md describes it
// for users of the artifacts.
//
// Inputs (in this order):
//   images        float32 [N, C, Hp, Wp]  raw pixels in INPUT.FORMAT channel order (no
//                 normalization: the graph normalizes), image i at the top-left of slot i;
//                 Hp, Wp = the batch's largest size rounded up to the size divisibility (or the
//                 square padding size). The padding values do not matter.
//   image_sizes   int64 [N, 2]  (height, width) of each image before padding.
//   output_sizes  int64 [N, 2]  (height, width) the results are wanted at (detectron2's
//                 "height"/"width" inputs; equal to image_sizes when the image was not resized).
//
// Outputs of an instance-detection graph: the Instances fields of all images concatenated along
// dim 0, in sorted field-name order (as detectron2 flattens Instances), then
//   image_size    int64 [N, 2]  the output size of each image (detectron2's Instances.image_size),
//   num_instances int64 [N]     how many rows of every field belong to each image.
// Fields: pred_boxes [D, 4] float32 XYXY in output-image pixels, scores [D] float32,
// pred_classes [D] int64, optionally pred_masks bool [D, Hmax, Wmax] (full-image masks pasted at
// each image's output size, on a canvas of the batch's largest output size: crop row i to its
// image's size), pred_keypoints [D, K, 3] (x, y, score) and pred_keypoint_heatmaps [D, K, S, S].
// One image's slice of the outputs is detectron2's flattened Instances (fields..., image_size):
// the output schema JSON (core/flatten) describes it.
//
// Panoptic models (PanopticFPN) add, after num_instances:
//   panoptic_seg   int32 [N, Hmax, Wmax]    per image, cropped to its output size (0 = none),
//   sem_seg        float32 [N, C, Hmax, Wmax] semantic logits at the output size,
//   segments_info  int64 [S, 5]  (id, category_id, isthing, area, instance_id (-1 for stuff)),
//   segments_score float32 [S]  (0 for stuff),
//   num_segments   int64 [N]    rows of segments_info / segments_score per image.
#ifndef D2X_CORE_EXPORT_DETECTOR_IO_H_
#define D2X_CORE_EXPORT_DETECTOR_IO_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"

namespace d2x::exporting {

inline constexpr char kImagesInput[] = "images";
inline constexpr char kImageSizesInput[] = "image_sizes";
inline constexpr char kOutputSizesInput[] = "output_sizes";
inline constexpr char kImageSizeOutput[] = "image_size";
inline constexpr char kNumInstancesOutput[] = "num_instances";
inline constexpr char kPanopticSegOutput[] = "panoptic_seg";
inline constexpr char kSemSegOutput[] = "sem_seg";
inline constexpr char kSegmentsInfoOutput[] = "segments_info";
inline constexpr char kSegmentsScoreOutput[] = "segments_score";
inline constexpr char kNumSegmentsOutput[] = "num_segments";

// The three input names, in order.
const std::vector<std::string>& DetectorInputNames();

// Builds the inputs for a batch. `size_divisibility` <= 1 means none; `square_size` > 0 pads to
// that square (detectron2's padding_constraints). Errors name the offending image.
absl::StatusOr<std::vector<at::Tensor>> MakeDetectorInputs(const std::vector<ImageInput>& batch,
                                                           int64_t size_divisibility,
                                                           int64_t square_size = 0);

// Output names of an instance detector: `fields` sorted, then image_size and num_instances.
std::vector<std::string> DetectorOutputNames(std::vector<std::string> fields);
// ... of a panoptic model: DetectorOutputNames, then panoptic_seg, sem_seg, segments_info,
// segments_score, num_segments.
std::vector<std::string> PanopticOutputNames(std::vector<std::string> fields);

// The output schema (core/flatten JSON) of one image's slice: detectron2's InstancesSchema of
// the given fields (pred_boxes as detectron2.structures.Boxes, the others plain tensors).
std::string DetectorOutputSchemaJson(const std::vector<std::string>& fields);

// Splits a graph's outputs (named `output_names`, the contract above) into per-image results:
// every field split by num_instances, masks cropped to the image's output size. Errors name the
// output and what was expected.
absl::StatusOr<std::vector<ImageResult>> DetectorOutputsToResults(
    const std::vector<at::Tensor>& outputs, const std::vector<std::string>& output_names);

// One image's result from a dict of named tensors (a scripted module's output): Instances fields,
// and sem_seg / panoptic_seg / segments_info + segments_score for panoptic models.
absl::StatusOr<ImageResult> ImageResultFromFields(const std::map<std::string, at::Tensor>& fields,
                                                  int64_t height, int64_t width);

// The inverse, for runtimes with structured outputs (a TorchScript scripted module returns one
// field dict per image): concatenates per-image results into the flat outputs named
// `output_names` (masks padded to the batch's largest size).
absl::StatusOr<std::vector<at::Tensor>> ResultsToDetectorOutputs(
    const std::vector<ImageResult>& results, const std::vector<std::string>& output_names);

}  // namespace d2x::exporting

#endif  // D2X_CORE_EXPORT_DETECTOR_IO_H_
