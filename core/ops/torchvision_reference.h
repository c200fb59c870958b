// torchvision's own CPU kernels, loaded into this process, as the reference for d2x's ops.
//
// LoadTorchvision() dlopens torchvision's _C extension (no Python needed), which registers the
// torchvision:: ops with the dispatcher. The functions below call them through the dispatcher, and
// mirror torchvision.ops.batched_nms (torchvision 0.14, ops/boxes.py) with ATen calls. For tests
// and the benchmark only; never linked into the d2x binary.
#ifndef D2X_CORE_OPS_TORCHVISION_REFERENCE_H_
#define D2X_CORE_OPS_TORCHVISION_REFERENCE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace d2x::ops::reference {

// Debian's python3-torchvision extension.
inline constexpr char kTorchvisionExtension[] =
    "/usr/lib/python3/dist-packages/torchvision/_C.cpython-311-x86_64-linux-gnu.so";

// Loads `path` (default: $D2X_TORCHVISION_C_SO, else kTorchvisionExtension) once, with
// RTLD_NOW | RTLD_GLOBAL, and checks that torchvision::nms and torchvision::roi_align are
// registered. Later calls return the first result.
absl::Status LoadTorchvision();

// torchvision::roi_align (requires LoadTorchvision()).
at::Tensor RoiAlign(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                    bool aligned);

// torchvision::nms (requires LoadTorchvision()).
at::Tensor Nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

// torchvision.ops.boxes._batched_nms_coordinate_trick, op for op.
at::Tensor BatchedNmsCoordinateTrick(const at::Tensor& boxes, const at::Tensor& scores,
                                     const at::Tensor& idxs, double iou_threshold);

// torchvision.ops.boxes._batched_nms_vanilla, op for op.
at::Tensor BatchedNmsVanilla(const at::Tensor& boxes, const at::Tensor& scores,
                             const at::Tensor& idxs, double iou_threshold);

// torchvision.ops.batched_nms on CPU in eager mode: vanilla when boxes.numel() > 4000, else the
// coordinate trick.
at::Tensor BatchedNms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                      double iou_threshold);

// True when a and b have the same dtype, shape and bytes (NaN-safe, distinguishes -0 and +0).
bool BitwiseEqual(const at::Tensor& a, const at::Tensor& b);

}  // namespace d2x::ops::reference

#endif  // D2X_CORE_OPS_TORCHVISION_REFERENCE_H_
