#include "core/modeling/preprocess.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace d2x::modeling {

absl::StatusOr<structures::ImageList> PreprocessImages(const std::vector<at::Tensor>& images,
                                                       const std::vector<double>& pixel_mean,
                                                       const std::vector<double>& pixel_std,
                                                       int64_t size_divisibility,
                                                       int64_t square_size) {
  if (pixel_mean.size() != pixel_std.size() || pixel_mean.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MODEL.PIXEL_MEAN (", pixel_mean.size(), " values) and MODEL.PIXEL_STD (",
        pixel_std.size(), " values) must be non-empty and of equal length"));
  }
  const int64_t c = static_cast<int64_t>(pixel_mean.size());
  std::vector<at::Tensor> normalized;
  try {
    // torch.tensor(cfg.MODEL.PIXEL_MEAN).view(-1, 1, 1): float32.
    at::Tensor mean = at::tensor(pixel_mean, at::kDouble).to(at::kFloat).view({-1, 1, 1});
    at::Tensor std = at::tensor(pixel_std, at::kDouble).to(at::kFloat).view({-1, 1, 1});
    for (size_t i = 0; i < images.size(); ++i) {
      const at::Tensor& x = images[i];
      if (!x.defined() || x.dim() != 3 || x.size(0) != c) {
        return absl::InvalidArgumentError(absl::StrCat(
            "preprocess_image: image ", i, " must be [", c, ", H, W], got ",
            x.defined() ? c10::str(x.sizes()) : std::string("undefined")));
      }
      if (x.is_complex() || x.scalar_type() == at::kBool) {
        return absl::InvalidArgumentError(absl::StrCat("preprocess_image: image ", i,
                                                       " has unsupported dtype ",
                                                       c10::toString(x.scalar_type())));
      }
      at::Tensor m = mean.to(x.device());
      at::Tensor s = std.to(x.device());
      normalized.push_back((x - m) / s);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("preprocess_image: ", e.what()));
  }
  return structures::ImageList::FromTensors(normalized, size_divisibility, 0.0, square_size);
}

absl::StatusOr<structures::ImageList> PreprocessImages(const std::vector<ImageInput>& batch,
                                                       const std::vector<double>& pixel_mean,
                                                       const std::vector<double>& pixel_std,
                                                       int64_t size_divisibility,
                                                       int64_t square_size) {
  std::vector<at::Tensor> images;
  images.reserve(batch.size());
  for (const ImageInput& input : batch) images.push_back(input.image);
  return PreprocessImages(images, pixel_mean, pixel_std, size_divisibility, square_size);
}

structures::ImageSize ResizeShortestEdgeOutputShape(int64_t height, int64_t width,
                                                    int64_t short_edge_length, int64_t max_size) {
  const double h = static_cast<double>(height);
  const double w = static_cast<double>(width);
  const double size = static_cast<double>(short_edge_length) * 1.0;
  double scale = size / std::min(h, w);
  double newh, neww;
  if (h < w) {
    newh = size;
    neww = scale * w;
  } else {
    newh = scale * h;
    neww = size;
  }
  if (std::max(newh, neww) > static_cast<double>(max_size)) {
    scale = static_cast<double>(max_size) * 1.0 / std::max(newh, neww);
    newh = newh * scale;
    neww = neww * scale;
  }
  // Python int() truncates toward zero; the values are positive.
  return {static_cast<int64_t>(newh + 0.5), static_cast<int64_t>(neww + 0.5)};
}

namespace {

// Pillow's resampling (libImaging/Resample.c) for 8-bit images with the bilinear (triangle) filter.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;     // per output pixel: xmin, count
  std::vector<int32_t> kk;     // outSize * ksize fixed-point coefficients
};

double BilinearFilter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

Coeffs PrecomputeCoeffs(int in_size, int out_size) {
  const float in0 = 0.f;
  const float in1 = static_cast<float>(in_size);
  const double support_base = 1.0;  // bilinear filter support
  double scale = static_cast<double>(in1 - in0) / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = support_base * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * out_size);
  c.kk.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    std::fill(k.begin(), k.end(), 0.0);
    for (int x = 0; x < xmax; ++x) {
      const double w = BilinearFilter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
    }
    for (int x = 0; x < c.ksize; ++x) {
      const double v = k[x];
      c.kk[static_cast<size_t>(xx) * c.ksize + x] =
          v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  return c;
}

inline uint8_t Clip8(int32_t in) {
  const int32_t v = in >> kPrecisionBits;  // arithmetic shift, as Pillow
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// One pass along an axis of a [rows, cols, channels] uint8 image. `horizontal` resamples cols.
std::vector<uint8_t> ResamplePass(const std::vector<uint8_t>& in, int rows, int cols,
                                  int channels, bool horizontal, int out_size) {
  const int in_size = horizontal ? cols : rows;
  const Coeffs c = PrecomputeCoeffs(in_size, out_size);
  const int out_rows = horizontal ? rows : out_size;
  const int out_cols = horizontal ? out_size : cols;
  std::vector<uint8_t> out(static_cast<size_t>(out_rows) * out_cols * channels);
  for (int r = 0; r < out_rows; ++r) {
    for (int col = 0; col < out_cols; ++col) {
      const int o = horizontal ? col : r;
      const int xmin = c.bounds[2 * o];
      const int count = c.bounds[2 * o + 1];
      const int32_t* k = &c.kk[static_cast<size_t>(o) * c.ksize];
      for (int ch = 0; ch < channels; ++ch) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < count; ++x) {
          const int src_r = horizontal ? r : xmin + x;
          const int src_c = horizontal ? xmin + x : col;
          ss += static_cast<int32_t>(
                    in[(static_cast<size_t>(src_r) * cols + src_c) * channels + ch]) *
                k[x];
        }
        out[(static_cast<size_t>(r) * out_cols + col) * channels + ch] = Clip8(ss);
      }
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<at::Tensor> ResizeImageHwc(const at::Tensor& image, int64_t new_height,
                                          int64_t new_width) {
  if (!image.defined() || (image.dim() != 2 && image.dim() != 3)) {
    return absl::InvalidArgumentError("ResizeImageHwc: expected an (H, W[, C]) image");
  }
  if (new_height <= 0 || new_width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("ResizeImageHwc: invalid target size ",
                                                   new_height, "x", new_width));
  }
  const int64_t h = image.size(0);
  const int64_t w = image.size(1);
  const int64_t ch = image.dim() == 3 ? image.size(2) : 1;
  try {
    if (image.scalar_type() == at::kByte) {
      if (ch < 1 || ch > 4) {
        return absl::InvalidArgumentError(
            absl::StrCat("ResizeImageHwc: PIL path supports 1-4 channels, got ", ch));
      }
      at::Tensor src = image.contiguous().cpu();
      std::vector<uint8_t> buf(src.data_ptr<uint8_t>(), src.data_ptr<uint8_t>() + src.numel());
      int rows = static_cast<int>(h), cols = static_cast<int>(w);
      // Pillow: horizontal pass first (when the width changes), then vertical.
      if (new_width != w) {
        buf = ResamplePass(buf, rows, cols, static_cast<int>(ch), /*horizontal=*/true,
                           static_cast<int>(new_width));
        cols = static_cast<int>(new_width);
      }
      if (new_height != h) {
        buf = ResamplePass(buf, rows, cols, static_cast<int>(ch), /*horizontal=*/false,
                           static_cast<int>(new_height));
        rows = static_cast<int>(new_height);
      }
      std::vector<int64_t> shape = {rows, cols};
      if (image.dim() == 3) shape.push_back(ch);
      at::Tensor out = at::empty(shape, at::kByte);
      std::copy(buf.begin(), buf.end(), out.data_ptr<uint8_t>());
      return out.to(image.device());
    }
    if (at::isFloatingType(image.scalar_type())) {
      // hw(c) -> nchw, interpolate, back.
      at::Tensor x = image.dim() == 3 ? image.permute({2, 0, 1}).unsqueeze(0)
                                      : image.unsqueeze(0).unsqueeze(0);
      at::Tensor y = at::upsample_bilinear2d(x, {new_height, new_width}, /*align_corners=*/false);
      return image.dim() == 3 ? y.squeeze(0).permute({1, 2, 0}).contiguous()
                              : y.squeeze(0).squeeze(0).contiguous();
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("ResizeImageHwc: ", e.what()));
  }
  return absl::InvalidArgumentError(absl::StrCat("ResizeImageHwc: unsupported dtype ",
                                                 c10::toString(image.scalar_type())));
}

absl::StatusOr<at::Tensor> ApplyTestResize(const at::Tensor& image_hwc, int64_t min_size,
                                           int64_t max_size) {
  if (min_size == 0) return image_hwc;
  if (min_size < 0 || max_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("INPUT.MIN_SIZE_TEST=", min_size,
                                                   " / MAX_SIZE_TEST=", max_size, " invalid"));
  }
  if (!image_hwc.defined() || image_hwc.dim() < 2) {
    return absl::InvalidArgumentError("ApplyTestResize: expected an (H, W[, C]) image");
  }
  const structures::ImageSize s =
      ResizeShortestEdgeOutputShape(image_hwc.size(0), image_hwc.size(1), min_size, max_size);
  return ResizeImageHwc(image_hwc, s.height, s.width);
}

}  // namespace d2x::modeling
