// CPU kernel of d2x::roi_align: RoIAlign forward with torchvision 0.14's exact arithmetic.
//
// Bit-exactness with torchvision::roi_align rests on evaluating, for every output element, the
// same floating-point expressions in the same order and type:
//   - ROI geometry in T: x * spatial_scale - offset (offset 0.5 when aligned), width/height
//     clamped to >= 1 when !aligned, bin size = extent / pooled size;
//   - adaptive grid (sampling_ratio <= 0): ceil(extent / pooled size) samples per bin side;
//   - sample (iy, ix) of bin (ph, pw): start + ph * bin + T(iy + 0.5f) * bin / grid;
//   - Caffe2 bilinear weights (clamping at the border, zero outside [-1, size]);
//   - per bin: sum over samples (row-major) of ((w1*v1 + w2*v2) + w3*v3) + w4*v4, then / count.
// ROIs are independent, so they are spread over threads with at::parallel_for without changing
// any result. Build with -ffp-contract=off: a fused multiply-add would change the roundings.
//
// Two code paths with identical results (see roi_align_layout.h): gathering from NCHW channel
// planes like the reference, or, when there is enough work to pay for a layout conversion (or the
// input is channels-last already), accumulating all channels of a tap at once from NHWC, which
// vectorizes (AVX2 when available) and streams through memory: ~4-5x faster for detectron2's box
// head (1000 ROIs, 256 channels).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/ops/roi_align_layout.h"

namespace d2x::ops {
namespace {

// One bilinear sample: four flat offsets into a channel plane and their weights.
template <typename T>
struct BilinearTap {
  int64_t offset[4];
  T weight[4];
};

// The bilinear tap for the point (y, x) in a height x width plane. Points outside
// [-1, height] x [-1, width] (and NaN points) contribute nothing.
template <typename T>
BilinearTap<T> MakeTap(int64_t height, int64_t width, T y, T x) {
  BilinearTap<T> tap{};
  if (!(y >= -1.0 && y <= height && x >= -1.0 && x <= width)) return tap;
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t y0 = static_cast<int64_t>(y);
  int64_t x0 = static_cast<int64_t>(x);
  int64_t y1;
  int64_t x1;
  if (y0 >= height - 1) {
    y0 = y1 = height - 1;
    y = static_cast<T>(y0);
  } else {
    y1 = y0 + 1;
  }
  if (x0 >= width - 1) {
    x0 = x1 = width - 1;
    x = static_cast<T>(x0);
  } else {
    x1 = x0 + 1;
  }
  const T ly = y - y0;
  const T lx = x - x0;
  // 1 - l is evaluated in double and rounded to T, as in the reference.
  const T hy = 1. - ly;
  const T hx = 1. - lx;
  tap.offset[0] = y0 * width + x0;
  tap.offset[1] = y0 * width + x1;
  tap.offset[2] = y1 * width + x0;
  tap.offset[3] = y1 * width + x1;
  tap.weight[0] = hy * hx;
  tap.weight[1] = hy * lx;
  tap.weight[2] = ly * hx;
  tap.weight[3] = ly * lx;
  return tap;
}

struct PoolGeometry {
  int64_t channels;
  int64_t height;
  int64_t width;
  int64_t pooled_height;
  int64_t pooled_width;
  int64_t sampling_ratio;
  bool aligned;
};

// The sampling plan of one ROI, shared by all channels.
template <typename T>
struct RoiPlan {
  int64_t batch_index = 0;
  int64_t samples_per_bin = 0;       // taps per output bin
  T count = 1;                       // the divisor of each bin's sum
  std::vector<BilinearTap<T>> taps;  // bins x samples_per_bin, in (ph, pw, iy, ix) order
};

// Fills `plan` for one ROI (batch_index, x1, y1, x2, y2); `plan` is reused across ROIs.
template <typename T>
void PlanRoi(const T* roi, T spatial_scale, const PoolGeometry& g, RoiPlan<T>& plan) {
  plan.batch_index = static_cast<int64_t>(roi[0]);
  const T offset = g.aligned ? static_cast<T>(0.5) : static_cast<T>(0.0);
  const T start_w = roi[1] * spatial_scale - offset;
  const T start_h = roi[2] * spatial_scale - offset;
  const T end_w = roi[3] * spatial_scale - offset;
  const T end_h = roi[4] * spatial_scale - offset;
  T extent_w = end_w - start_w;
  T extent_h = end_h - start_h;
  if (!g.aligned) {  // legacy mode: degenerate ROIs become 1x1
    extent_w = std::max(extent_w, static_cast<T>(1.));
    extent_h = std::max(extent_h, static_cast<T>(1.));
  }
  const T bin_h = extent_h / static_cast<T>(g.pooled_height);
  const T bin_w = extent_w / static_cast<T>(g.pooled_width);
  int64_t grid_h = g.sampling_ratio;
  int64_t grid_w = g.sampling_ratio;
  if (g.sampling_ratio <= 0) {  // adaptive: about one sample per feature-map pixel
    const T cells_h = std::ceil(extent_h / static_cast<T>(g.pooled_height));
    const T cells_w = std::ceil(extent_w / static_cast<T>(g.pooled_width));
    TORCH_CHECK(std::abs(cells_h) < (1 << 20) && std::abs(cells_w) < (1 << 20),
                "d2x::roi_align: ROI (", roi[1], ", ", roi[2], ", ", roi[3], ", ", roi[4],
                ") needs a ", cells_h, "x", cells_w, " sampling grid per bin; is it in pixels?");
    grid_h = static_cast<int64_t>(cells_h);
    grid_w = static_cast<int64_t>(cells_w);
  }
  // The divisor, as in the reference, is the product of the grid sides, at least 1: an aligned ROI
  // of zero or negative extent has an empty grid (a side <= 0; both sides negative give a positive
  // product) and yields 0.
  plan.count = static_cast<T>(std::max<int64_t>(grid_h * grid_w, 1));
  plan.samples_per_bin = std::max<int64_t>(grid_h, 0) * std::max<int64_t>(grid_w, 0);

  plan.taps.clear();
  plan.taps.reserve(static_cast<size_t>(g.pooled_height * g.pooled_width * plan.samples_per_bin));
  for (int64_t ph = 0; ph < g.pooled_height; ++ph) {
    for (int64_t pw = 0; pw < g.pooled_width; ++pw) {
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        const T y = start_h + static_cast<T>(ph) * bin_h +
                    static_cast<T>(static_cast<float>(iy) + .5f) * bin_h / static_cast<T>(grid_h);
        for (int64_t ix = 0; ix < grid_w; ++ix) {
          const T x = start_w + static_cast<T>(pw) * bin_w +
                      static_cast<T>(static_cast<float>(ix) + .5f) * bin_w / static_cast<T>(grid_w);
          plan.taps.push_back(MakeTap<T>(g.height, g.width, y, x));
        }
      }
    }
  }
}

// NCHW input: out[c, bin] for one ROI, channel by channel (one channel plane at a time).
template <typename T>
void PoolRoiPlanar(const RoiPlan<T>& plan, const T* input, const PoolGeometry& g, T* out) {
  const int64_t plane = g.height * g.width;
  const int64_t bins = g.pooled_height * g.pooled_width;
  for (int64_t c = 0; c < g.channels; ++c) {
    const T* in = input + (plan.batch_index * g.channels + c) * plane;
    T* out_c = out + c * bins;
    const BilinearTap<T>* tap = plan.taps.data();
    for (int64_t bin = 0; bin < bins; ++bin) {
      T sum = 0.;
      for (int64_t s = 0; s < plan.samples_per_bin; ++s, ++tap) {
        sum += tap->weight[0] * in[tap->offset[0]] + tap->weight[1] * in[tap->offset[1]] +
               tap->weight[2] * in[tap->offset[2]] + tap->weight[3] * in[tap->offset[3]];
      }
      sum /= plan.count;
      out_c[bin] = sum;
    }
  }
}

// Channels-last input: adds the taps of one bin to acc[0..channels), all channels at once (the
// loop over c vectorizes). Per element this is exactly the planar kernel's expression and order:
// acc += ((w0 * v0 + w1 * v1) + w2 * v2) + w3 * v3, tap after tap.
template <typename T>
inline __attribute__((always_inline)) void AccumulateTapsImpl(T* __restrict acc,
                                                              const T* __restrict image,
                                                              const BilinearTap<T>* taps,
                                                              int64_t num_taps, int64_t channels) {
  for (int64_t s = 0; s < num_taps; ++s) {
    const BilinearTap<T>& t = taps[s];
    const T* __restrict v0 = image + t.offset[0] * channels;
    const T* __restrict v1 = image + t.offset[1] * channels;
    const T* __restrict v2 = image + t.offset[2] * channels;
    const T* __restrict v3 = image + t.offset[3] * channels;
    const T w0 = t.weight[0], w1 = t.weight[1], w2 = t.weight[2], w3 = t.weight[3];
    for (int64_t c = 0; c < channels; ++c) {
      acc[c] += w0 * v0[c] + w1 * v1[c] + w2 * v2[c] + w3 * v3[c];
    }
  }
}

// Compiled for AVX2 and for baseline x86-64, picked at load time. AVX2 without FMA: the same
// IEEE multiplies and adds, just wider (and -ffp-contract=off keeps them unfused).
__attribute__((target_clones("avx2", "default"))) void AccumulateTaps(
    float* acc, const float* image, const BilinearTap<float>* taps, int64_t num_taps,
    int64_t channels) {
  AccumulateTapsImpl(acc, image, taps, num_taps, channels);
}

__attribute__((target_clones("avx2", "default"))) void AccumulateTaps(
    double* acc, const double* image, const BilinearTap<double>* taps, int64_t num_taps,
    int64_t channels) {
  AccumulateTapsImpl(acc, image, taps, num_taps, channels);
}

// NHWC input: out[c, bin] for one ROI, accumulated as acc[bin, c] (`acc` is scratch space).
template <typename T>
void PoolRoiChannelsLast(const RoiPlan<T>& plan, const T* input, const PoolGeometry& g, T* out,
                         std::vector<T>& acc) {
  const int64_t channels = g.channels;
  const int64_t bins = g.pooled_height * g.pooled_width;
  const T* image = input + plan.batch_index * g.height * g.width * channels;
  acc.assign(static_cast<size_t>(bins * channels), static_cast<T>(0.));
  for (int64_t bin = 0; bin < bins; ++bin) {
    AccumulateTaps(acc.data() + bin * channels, image,
                   plan.taps.data() + bin * plan.samples_per_bin, plan.samples_per_bin, channels);
  }
  for (int64_t bin = 0; bin < bins; ++bin) {
    const T* a = acc.data() + bin * channels;
    for (int64_t c = 0; c < channels; ++c) out[c * bins + bin] = a[c] / plan.count;
  }
}

std::atomic<RoiAlignLayout> g_layout{RoiAlignLayout::kAuto};

// Sum over ROIs of taps per ROI (for choosing the layout); a cheap estimate of the work.
template <typename T>
double CountTaps(const T* rois, int64_t num_rois, T spatial_scale, const PoolGeometry& g) {
  const double bins = static_cast<double>(g.pooled_height * g.pooled_width);
  if (g.sampling_ratio > 0) {
    return num_rois * bins * static_cast<double>(g.sampling_ratio * g.sampling_ratio);
  }
  double taps = 0;
  for (int64_t n = 0; n < num_rois; ++n) {
    const T* r = rois + n * 5;
    const double w = std::max(static_cast<double>(r[3] - r[1]) * spatial_scale, 1.0);
    const double h = std::max(static_cast<double>(r[4] - r[2]) * spatial_scale, 1.0);
    taps += bins * std::ceil(w / g.pooled_width) * std::ceil(h / g.pooled_height);
  }
  return taps;
}

// Gathering from NCHW planes costs several times more per tap than the vectorized channels-last
// loop, but converting NCHW to NHWC costs a pass over the whole input. Switch when there are at
// least this many taps per input pixel (the crossover measured with `ops_benchmark --layouts` on a
// 256x200x272 map: 0.3 taps/pixel 15 ms vs 37 ms, 0.7 taps/pixel 44 ms vs 39 ms).
constexpr double kChannelsLastMinTapsPerPixel = 0.7;

template <typename T>
void RoiAlignForward(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                     const PoolGeometry& g, at::Tensor& output) {
  const T* roi = rois.data_ptr<T>();
  const int64_t num_rois = rois.size(0);
  const T scale = static_cast<T>(spatial_scale);  // the reference works with T, not double
  const int64_t roi_out = g.channels * g.pooled_height * g.pooled_width;
  T* out = output.data_ptr<T>();

  bool channels_last = false;
  switch (g_layout.load(std::memory_order_relaxed)) {
    case RoiAlignLayout::kPlanar:
      break;
    case RoiAlignLayout::kChannelsLast:
      channels_last = true;
      break;
    case RoiAlignLayout::kAuto:
      channels_last =
          (input.is_contiguous(at::MemoryFormat::ChannelsLast) && !input.is_contiguous()) ||
          CountTaps(roi, num_rois, scale, g) >=
              kChannelsLastMinTapsPerPixel * static_cast<double>(input.numel() / g.channels);
      break;
  }

  if (channels_last) {
    // Converting a 256x200x272 float map costs ~35 ms (mostly first-touch page faults of the new
    // buffer and the strided copy); a hand-tiled transpose measured no faster.
    const at::Tensor nhwc = input.contiguous(at::MemoryFormat::ChannelsLast);
    const T* in = nhwc.data_ptr<T>();
    at::parallel_for(0, num_rois, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
      RoiPlan<T> plan;
      std::vector<T> acc;
      for (int64_t n = begin; n < end; ++n) {
        PlanRoi<T>(roi + n * 5, scale, g, plan);
        PoolRoiChannelsLast<T>(plan, in, g, out + n * roi_out, acc);
      }
    });
  } else {
    const at::Tensor nchw = input.contiguous();
    const T* in = nchw.data_ptr<T>();
    at::parallel_for(0, num_rois, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
      RoiPlan<T> plan;
      for (int64_t n = begin; n < end; ++n) {
        PlanRoi<T>(roi + n * 5, scale, g, plan);
        PoolRoiPlanar<T>(plan, in, g, out + n * roi_out);
      }
    });
  }
}

// Throws unless every batch index of rois ([K, 5], contiguous) truncates into [0, batch).
template <typename T>
void CheckBatchIndices(const at::Tensor& rois, int64_t batch) {
  const T* r = rois.data_ptr<T>();
  for (int64_t k = 0; k < rois.size(0); ++k) {
    const T b = r[k * 5];
    TORCH_CHECK(b > static_cast<T>(-1) && b < static_cast<T>(batch), "d2x::roi_align: rois[", k,
                ", 0] (batch index) is ", b, ", expected an index into the ", batch,
                " images of input");
  }
}

at::Tensor RoiAlignKernel(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                          int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                          bool aligned) {
  TORCH_CHECK(input.device().is_cpu() && rois.device().is_cpu(),
              "d2x::roi_align: input and rois must be CPU tensors");
  TORCH_CHECK(input.dim() == 4, "d2x::roi_align: input must be [N, C, H, W], got ", input.sizes());
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5, "d2x::roi_align: rois must be [K, 5], got ",
              rois.sizes());
  TORCH_CHECK(input.scalar_type() == rois.scalar_type(),
              "d2x::roi_align: input and rois must have the same dtype, got ", input.scalar_type(),
              " and ", rois.scalar_type());
  TORCH_CHECK(pooled_height > 0 && pooled_width > 0,
              "d2x::roi_align: pooled size must be positive, got ", pooled_height, "x",
              pooled_width);
  TORCH_CHECK(rois.size(0) == 0 || (input.size(2) > 0 && input.size(3) > 0),
              "d2x::roi_align: input has an empty feature map ", input.sizes());
  const PoolGeometry g{input.size(1), input.size(2),  input.size(3), pooled_height,
                       pooled_width,  sampling_ratio, aligned};
  at::Tensor output =
      at::empty({rois.size(0), g.channels, pooled_height, pooled_width}, input.options());
  if (output.numel() == 0) return output;
  const at::Tensor rois_c = rois.contiguous();
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "d2x::roi_align", [&] {
    CheckBatchIndices<scalar_t>(rois_c, input.size(0));
    RoiAlignForward<scalar_t>(input, rois_c, spatial_scale, g, output);
  });
  return output;
}

}  // namespace

void SetRoiAlignLayoutForTesting(RoiAlignLayout layout) { g_layout.store(layout); }

TORCH_LIBRARY_IMPL(d2x, CPU, m) { m.impl("roi_align", TORCH_FN(RoiAlignKernel)); }

}  // namespace d2x::ops
