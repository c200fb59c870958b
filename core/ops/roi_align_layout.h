// Internal: which memory layout d2x::roi_align's CPU kernel gathers from. Both give identical
// results; kAuto (the default) picks by cost. Tests force each one to cover both code paths.
#ifndef D2X_CORE_OPS_ROI_ALIGN_LAYOUT_H_
#define D2X_CORE_OPS_ROI_ALIGN_LAYOUT_H_

namespace d2x::ops {

enum class RoiAlignLayout {
  kAuto,          // channels-last when the input is, or when there are many taps per pixel
  kPlanar,        // gather from NCHW channel planes
  kChannelsLast,  // convert to NHWC, vectorize over channels
};

// Process-wide; for tests and benchmarks only.
void SetRoiAlignLayoutForTesting(RoiAlignLayout layout);

}  // namespace d2x::ops

#endif  // D2X_CORE_OPS_ROI_ALIGN_LAYOUT_H_
