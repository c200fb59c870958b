// Input preprocessing, as GeneralizedRCNN.preprocess_image (and the test-time resize of
// DefaultPredictor / the default test mapper: ResizeShortestEdge(MIN_SIZE_TEST, MAX_SIZE_TEST)).
#ifndef D2X_CORE_MODELING_PREPROCESS_H_
#define D2X_CORE_MODELING_PREPROCESS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"
#include "core/structures/image_list.h"

namespace d2x::modeling {

// preprocess_image: every image [C, H, W] (any real dtype, channels in INPUT.FORMAT order) becomes
// (image - pixel_mean) / pixel_std with mean/std as float32 [C, 1, 1] tensors (MODEL.PIXEL_MEAN /
// PIXEL_STD), then ImageList.from_tensors(size_divisibility, pad 0, square_size).
absl::StatusOr<structures::ImageList> PreprocessImages(const std::vector<at::Tensor>& images,
                                                       const std::vector<double>& pixel_mean,
                                                       const std::vector<double>& pixel_std,
                                                       int64_t size_divisibility,
                                                       int64_t square_size = 0);

// The same for the images of a batch of model inputs (ImageInput::image).
absl::StatusOr<structures::ImageList> PreprocessImages(const std::vector<ImageInput>& batch,
                                                       const std::vector<double>& pixel_mean,
                                                       const std::vector<double>& pixel_std,
                                                       int64_t size_divisibility,
                                                       int64_t square_size = 0);

// ResizeShortestEdge.get_output_shape(h, w, short_edge_length, max_size): (new_h, new_w), computed
// in double and rounded with int(x + 0.5) like detectron2.
structures::ImageSize ResizeShortestEdgeOutputShape(int64_t height, int64_t width,
                                                    int64_t short_edge_length, int64_t max_size);

// ResizeTransform.apply_image for an HWC image (H, W[, C]):
//  * uint8: PIL Image.resize(..., BILINEAR) — reimplemented exactly (Pillow's two-pass separable
//    resampling with antialiasing support scaled by the downscale factor, 22-bit fixed-point
//    coefficients, horizontal pass first with an intermediate uint8 rounding). Bit-exact with
//    Pillow 9.x for 1..4 channels.
//  * float: F.interpolate(NCHW, (new_h, new_w), mode="bilinear", align_corners=False), as
//    detectron2 does for non-uint8 arrays (no antialiasing).
// Errors: other dtypes, bad shapes or sizes.
absl::StatusOr<at::Tensor> ResizeImageHwc(const at::Tensor& image, int64_t new_height,
                                          int64_t new_width);

// The test-time transform: ResizeShortestEdge([min_size, min_size], max_size) on an HWC image.
// min_size == 0 means no resize (returns the input). Returns the HWC image to feed the model; the
// requested output size (ImageInput height/width) stays the original size.
absl::StatusOr<at::Tensor> ApplyTestResize(const at::Tensor& image_hwc, int64_t min_size,
                                           int64_t max_size);

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_PREPROCESS_H_
