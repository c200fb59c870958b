#include "core/structures/postprocess.h"

#include <ATen/ATen.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "core/structures/boxes.h"
#include "core/util/status_macros.h"

namespace d2x::structures {

absl::StatusOr<RescaledBoxes> RescaleAndClipBoxes(const at::Tensor& boxes, int64_t input_height,
                                                  int64_t input_width, int64_t output_height,
                                                  int64_t output_width) {
  D2X_RETURN_IF_ERROR(ValidateBoxes(boxes, "detector_postprocess boxes"));
  if (input_height <= 0 || input_width <= 0 || output_height <= 0 || output_width <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("detector_postprocess: sizes must be positive, got input ", input_height,
                     "x", input_width, " output ", output_height, "x", output_width));
  }
  RescaledBoxes out;
  out.scale_x = static_cast<double>(output_width) / static_cast<double>(input_width);
  out.scale_y = static_cast<double>(output_height) / static_cast<double>(input_height);
  try {
    at::Tensor scaled = boxes.clone();
    ScaleBoxesInPlace(scaled, out.scale_x, out.scale_y);
    out.boxes = ClipBoxes(scaled, output_height, output_width);
    out.keep = NonemptyBoxes(out.boxes);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("detector_postprocess: ", e.what()));
  }
  return out;
}

absl::StatusOr<Instances> DetectorPostprocess(const Instances& results, int64_t output_height,
                                              int64_t output_width) {
  std::string box_field;
  if (results.fields.count("pred_boxes")) {
    box_field = "pred_boxes";
  } else if (results.fields.count("proposal_boxes")) {
    box_field = "proposal_boxes";
  } else {
    return absl::InvalidArgumentError(
        "detector_postprocess: Instances has neither pred_boxes nor proposal_boxes");
  }
  const at::Tensor& boxes = results.fields.at(box_field);
  D2X_ASSIGN_OR_RETURN(
      RescaledBoxes rescaled,
      RescaleAndClipBoxes(boxes, results.image_height, results.image_width, output_height,
                          output_width));
  const int64_t n = boxes.size(0);
  Instances out;
  out.image_height = output_height;
  out.image_width = output_width;
  try {
    at::Tensor keep_idx = rescaled.keep.nonzero().squeeze(1);
    for (const auto& [name, value] : results.fields) {
      if (!value.defined() || value.dim() == 0 || value.size(0) != n) {
        return absl::InvalidArgumentError(
            absl::StrCat("detector_postprocess: field '", name, "' must have ", n, " rows"));
      }
      at::Tensor v = name == box_field ? rescaled.boxes : value;
      v = v.index_select(0, keep_idx);
      if (name == "pred_keypoints") {
        if (v.dim() != 3 || v.size(2) < 2) {
          return absl::InvalidArgumentError(
              "detector_postprocess: pred_keypoints must be [N, K, 3]");
        }
        v.select(2, 0).mul_(rescaled.scale_x);
        v.select(2, 1).mul_(rescaled.scale_y);
      }
      out.fields[name] = v;
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("detector_postprocess: ", e.what()));
  }
  return out;
}

}  // namespace d2x::structures
