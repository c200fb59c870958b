// Image files → model inputs, as detectron2's DefaultPredictor: read in INPUT.FORMAT, apply the
// test-time ResizeShortestEdge(MIN_SIZE_TEST, MAX_SIZE_TEST), and ask for outputs at the original
// resolution.
#ifndef D2X_CORE_PIPELINE_INPUTS_H_
#define D2X_CORE_PIPELINE_INPUTS_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/model.h"

namespace d2x::pipeline {

struct PreparedImages {
  std::vector<at::Tensor> originals;  // uint8 [3, H, W] BGR as read (for drawing)
  std::vector<ImageInput> inputs;     // what the model gets
};

absl::StatusOr<PreparedImages> PrepareImages(const config::Config& config,
                                             const std::vector<std::string>& paths);

// The same for images already in memory (uint8 [3, H, W] in INPUT.FORMAT order).
absl::StatusOr<ImageInput> PrepareImage(const config::Config& config, const at::Tensor& chw);

}  // namespace d2x::pipeline

#endif  // D2X_CORE_PIPELINE_INPUTS_H_
