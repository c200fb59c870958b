// Internal: Caffe2's bbox_transform_upright (legacy_plus_one=False) of one box followed by
// clip_boxes_upright (generate_proposals_op_util_boxes.h), shared by the proposal and box kernels.
#ifndef D2X_CORE_CAFFE2_OPS_C2_BOX_TRANSFORM_H_
#define D2X_CORE_CAFFE2_OPS_C2_BOX_TRANSFORM_H_

#include <algorithm>
#include <cmath>

namespace d2x::c2ops::internal {

// log(1000 / 16): Caffe2's utils::BBOX_XFORM_CLIP_DEFAULT.
inline const float kBBoxXformClip = static_cast<float>(std::log(1000.0 / 16.0));

// Applies the deltas (dx, dy, dw, dh: already divided by the box regression weights; dw and dh
// are clamped to kBBoxXformClip) to the box (x1, y1, x2, y2) and clips the result to
// [0, img_w] x [0, img_h]; writes x1, y1, x2, y2 to `out`. Float32 in Caffe2's operation order
// (the kernels are compiled without FMA contraction).
inline void TransformAndClipBox(float x1, float y1, float x2, float y2, float dx, float dy,
                                float dw, float dh, int img_w, int img_h, float out[4]) {
  dw = std::min(dw, kBBoxXformClip);
  dh = std::min(dh, kBBoxXformClip);
  const float widths = x2 - x1, heights = y2 - y1;
  const float ctr_x = x1 + 0.5f * widths, ctr_y = y1 + 0.5f * heights;
  const float pcx = dx * widths + ctr_x, pcy = dy * heights + ctr_y;
  const float pw = std::exp(dw) * widths, ph = std::exp(dh) * heights;
  out[0] = std::max(std::min(pcx - 0.5f * pw, static_cast<float>(img_w)), 0.0f);
  out[1] = std::max(std::min(pcy - 0.5f * ph, static_cast<float>(img_h)), 0.0f);
  out[2] = std::max(std::min(pcx + 0.5f * pw, static_cast<float>(img_w)), 0.0f);
  out[3] = std::max(std::min(pcy + 0.5f * ph, static_cast<float>(img_h)), 0.0f);
}

}  // namespace d2x::c2ops::internal

#endif  // D2X_CORE_CAFFE2_OPS_C2_BOX_TRANSFORM_H_
