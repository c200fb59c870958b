// SemSegFPNHead (detectron2/modeling/meta_arch/semantic_seg.py) in inference, and
// sem_seg_postprocess (detectron2/modeling/postprocessing.py).
//
// One scale head per input feature (sorted by stride): max(1, log2(stride) - log2(common_stride))
// x [Conv2d 3x3 (norm, ReLU; bias only without norm) + bilinear x2 upsample (align_corners=False)
// when stride != common_stride]; the scale heads' outputs are summed, a 1x1 `predictor` conv gives
// the class logits at the common stride, upsampled by common_stride (bilinear,
// align_corners=False). Registered names, as detectron2 relative to the head: {feature}.{i}.weight,
// {feature}.{i}.norm.{weight,bias} (i = Sequential index: 0, 2, 4 with upsampling, 0 without),
// predictor.{weight,bias}.
#ifndef D2X_PLUGINS_ARCH_PANOPTIC_FPN_SEM_SEG_HEAD_H_
#define D2X_PLUGINS_ARCH_PANOPTIC_FPN_SEM_SEG_HEAD_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/modeling/backbone.h"
#include "core/modeling/conv2d.h"

namespace d2x::panoptic_fpn {

struct SemSegHeadOptions {
  std::vector<std::string> in_features = {"p2", "p3", "p4", "p5"};  // MODEL.SEM_SEG_HEAD.IN_FEATURES
  int64_t num_classes = 54;                                         // NUM_CLASSES
  int64_t conv_dims = 128;                                          // CONVS_DIM
  int64_t common_stride = 4;                                        // COMMON_STRIDE
  std::string norm = "GN";                                          // NORM
};

class SemSegFpnHead : public torch::nn::Module {
 public:
  // input_shape: the backbone's output_shape(); every in_feature must be in it.
  static absl::StatusOr<std::shared_ptr<SemSegFpnHead>> Create(
      const SemSegHeadOptions& options, const std::map<std::string, modeling::ShapeSpec>& input_shape);

  // layers(): summed scale heads + predictor, logits [N, C, Hp/common_stride, Wp/common_stride].
  at::Tensor Layers(const modeling::FeatureMap& features) const;
  // forward() in inference: Layers() upsampled by common_stride -> [N, C, Hp, Wp].
  at::Tensor Forward(const modeling::FeatureMap& features) const;

  const SemSegHeadOptions& options() const { return options_; }
  // In features sorted by stride (detectron2's self.in_features).
  const std::vector<std::string>& in_features() const { return in_features_; }

  SemSegFpnHead() : torch::nn::Module("SemSegFPNHead") {}

 private:
  struct ScaleHead {
    std::vector<std::shared_ptr<modeling::Conv2d>> convs;
    bool upsample = false;  // each conv is followed by a x2 upsample
  };

  SemSegHeadOptions options_;
  std::vector<std::string> in_features_;
  std::vector<ScaleHead> scale_heads_;
  std::shared_ptr<modeling::Conv2d> predictor_;
};

// sem_seg_postprocess: result [C, Hp, Wp] cropped to img_size (height, width), then resized to
// (output_height, output_width) with bilinear interpolation (align_corners=False) -> [C, H, W].
at::Tensor SemSegPostprocess(const at::Tensor& result, int64_t image_height, int64_t image_width,
                             int64_t output_height, int64_t output_width);

}  // namespace d2x::panoptic_fpn

#endif  // D2X_PLUGINS_ARCH_PANOPTIC_FPN_SEM_SEG_HEAD_H_
