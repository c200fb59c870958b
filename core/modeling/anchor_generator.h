// DefaultAnchorGenerator, as detectron2/modeling/anchor_generator.py.
//
// Anchors are not parameters or buffers (detectron2 keeps them in non-persistent buffers), so this
// is a plain class, not a torch module.
#ifndef D2X_CORE_MODELING_ANCHOR_GENERATOR_H_
#define D2X_CORE_MODELING_ANCHOR_GENERATOR_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::modeling {

struct AnchorGeneratorOptions {
  // sizes[i] / aspect_ratios[i]: anchor sizes (sqrt of area, input pixels) and aspect ratios
  // (h / w) of feature level i. A single entry is broadcast to every level (detectron2
  // _broadcast_params); otherwise there must be one entry per level.
  std::vector<std::vector<double>> sizes = {{32, 64, 128, 256, 512}};
  std::vector<std::vector<double>> aspect_ratios = {{0.5, 1.0, 2.0}};
  std::vector<int64_t> strides;  // one per feature level
  double offset = 0.5;           // in [0, 1); MODEL.ANCHOR_GENERATOR.OFFSET (config default 0.0)
};

class DefaultAnchorGenerator {
 public:
  // Errors: no strides, empty sizes/ratios, length mismatch, offset outside [0, 1).
  static absl::StatusOr<DefaultAnchorGenerator> Create(const AnchorGeneratorOptions& options);

  // generate_cell_anchors: for each size, for each aspect ratio, (-w/2, -h/2, w/2, h/2) with
  // w = sqrt(size^2 / ratio), h = ratio * w, computed in double and stored as float32 [A, 4].
  static at::Tensor GenerateCellAnchors(const std::vector<double>& sizes,
                                        const std::vector<double>& aspect_ratios);

  // Anchors for feature maps of the given (height, width): per level a float32
  // [H * W * A, 4] tensor, location-major (y, then x, then cell anchor), as _grid_anchors.
  std::vector<at::Tensor> GridAnchors(
      const std::vector<std::pair<int64_t, int64_t>>& grid_sizes) const;

  // forward(features): GridAnchors of each feature's (H, W). The anchors are placed on
  // features[i]'s device.
  std::vector<at::Tensor> Forward(const std::vector<at::Tensor>& features) const;

  const std::vector<at::Tensor>& cell_anchors() const { return cell_anchors_; }
  // Anchors per location of every level (len(cell_anchors[i])).
  std::vector<int64_t> num_anchors() const;
  int64_t box_dim() const { return 4; }
  const std::vector<int64_t>& strides() const { return strides_; }
  double offset() const { return offset_; }

 private:
  std::vector<int64_t> strides_;
  double offset_ = 0.5;
  std::vector<at::Tensor> cell_anchors_;
};

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_ANCHOR_GENERATOR_H_
