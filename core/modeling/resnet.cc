#include "core/modeling/resnet.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/status_macros.h"

namespace d2x::modeling {

namespace {

absl::StatusOr<std::shared_ptr<Conv2d>> MakeConv(int64_t in, int64_t out, int64_t kernel,
                                                 int64_t stride, int64_t padding,
                                                 const std::string& norm, int64_t groups = 1,
                                                 int64_t dilation = 1) {
  Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel_size = kernel;
  o.stride = stride;
  o.padding = padding;
  o.dilation = dilation;
  o.groups = groups;
  o.bias = false;
  o.norm = norm;
  return Conv2d::Create(o);
}

absl::Status FuseIfSet(const std::shared_ptr<Conv2d>& conv) {
  return conv ? conv->Fuse() : absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// BasicStem

absl::StatusOr<std::shared_ptr<BasicStem>> BasicStem::Create(int64_t in_channels,
                                                             int64_t out_channels,
                                                             const std::string& norm) {
  D2X_ASSIGN_OR_RETURN(auto conv1, MakeConv(in_channels, out_channels, 7, 2, 3, norm));
  return std::make_shared<BasicStem>(in_channels, out_channels, std::move(conv1));
}

BasicStem::BasicStem(int64_t in_channels, int64_t out_channels, std::shared_ptr<Conv2d> conv1)
    : CnnBlockBase("BasicStem", in_channels, out_channels, /*stride=*/4) {
  conv1_ = register_module("conv1", std::move(conv1));
}

at::Tensor BasicStem::Forward(const at::Tensor& x) {
  at::Tensor y = conv1_->Forward(x);
  at::relu_(y);
  return at::max_pool2d(y, {3, 3}, {2, 2}, {1, 1}, {1, 1}, /*ceil_mode=*/false);
}

absl::Status BasicStem::Fuse() { return conv1_->Fuse(); }

// ---------------------------------------------------------------------------------------------
// BasicBlock

absl::StatusOr<std::shared_ptr<BasicBlock>> BasicBlock::Create(int64_t in_channels,
                                                               int64_t out_channels,
                                                               int64_t stride,
                                                               const std::string& norm) {
  std::shared_ptr<Conv2d> shortcut;
  if (in_channels != out_channels) {
    D2X_ASSIGN_OR_RETURN(shortcut, MakeConv(in_channels, out_channels, 1, stride, 0, norm));
  }
  D2X_ASSIGN_OR_RETURN(auto conv1, MakeConv(in_channels, out_channels, 3, stride, 1, norm));
  D2X_ASSIGN_OR_RETURN(auto conv2, MakeConv(out_channels, out_channels, 3, 1, 1, norm));
  return std::make_shared<BasicBlock>(in_channels, out_channels, stride, std::move(shortcut),
                                      std::move(conv1), std::move(conv2));
}

BasicBlock::BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride,
                       std::shared_ptr<Conv2d> shortcut, std::shared_ptr<Conv2d> conv1,
                       std::shared_ptr<Conv2d> conv2)
    : CnnBlockBase("BasicBlock", in_channels, out_channels, stride) {
  // Registration order as detectron2: shortcut, conv1, conv2.
  if (shortcut) shortcut_ = register_module("shortcut", std::move(shortcut));
  conv1_ = register_module("conv1", std::move(conv1));
  conv2_ = register_module("conv2", std::move(conv2));
}

at::Tensor BasicBlock::Forward(const at::Tensor& x) {
  at::Tensor out = conv1_->Forward(x);
  at::relu_(out);
  out = conv2_->Forward(out);
  at::Tensor shortcut = shortcut_ ? shortcut_->Forward(x) : x;
  out += shortcut;
  at::relu_(out);
  return out;
}

absl::Status BasicBlock::Fuse() {
  D2X_RETURN_IF_ERROR(FuseIfSet(shortcut_));
  D2X_RETURN_IF_ERROR(conv1_->Fuse());
  return conv2_->Fuse();
}

// ---------------------------------------------------------------------------------------------
// BottleneckBlock

absl::StatusOr<std::shared_ptr<BottleneckBlock>> BottleneckBlock::Create(
    const BottleneckOptions& o) {
  std::shared_ptr<Conv2d> shortcut;
  if (o.in_channels != o.out_channels) {
    D2X_ASSIGN_OR_RETURN(shortcut, MakeConv(o.in_channels, o.out_channels, 1, o.stride, 0,
                                            o.norm));
  }
  const int64_t stride_1x1 = o.stride_in_1x1 ? o.stride : 1;
  const int64_t stride_3x3 = o.stride_in_1x1 ? 1 : o.stride;
  D2X_ASSIGN_OR_RETURN(auto conv1, MakeConv(o.in_channels, o.bottleneck_channels, 1, stride_1x1,
                                            0, o.norm));
  D2X_ASSIGN_OR_RETURN(auto conv2,
                       MakeConv(o.bottleneck_channels, o.bottleneck_channels, 3, stride_3x3,
                                o.dilation, o.norm, o.num_groups, o.dilation));
  D2X_ASSIGN_OR_RETURN(auto conv3,
                       MakeConv(o.bottleneck_channels, o.out_channels, 1, 1, 0, o.norm));
  return std::make_shared<BottleneckBlock>(o, std::move(shortcut), std::move(conv1),
                                           std::move(conv2), std::move(conv3));
}

BottleneckBlock::BottleneckBlock(const BottleneckOptions& o, std::shared_ptr<Conv2d> shortcut,
                                 std::shared_ptr<Conv2d> conv1, std::shared_ptr<Conv2d> conv2,
                                 std::shared_ptr<Conv2d> conv3)
    : CnnBlockBase("BottleneckBlock", o.in_channels, o.out_channels, o.stride) {
  if (shortcut) shortcut_ = register_module("shortcut", std::move(shortcut));
  conv1_ = register_module("conv1", std::move(conv1));
  conv2_ = register_module("conv2", std::move(conv2));
  conv3_ = register_module("conv3", std::move(conv3));
}

at::Tensor BottleneckBlock::Forward(const at::Tensor& x) {
  at::Tensor out = conv1_->Forward(x);
  at::relu_(out);
  out = conv2_->Forward(out);
  at::relu_(out);
  out = conv3_->Forward(out);
  at::Tensor shortcut = shortcut_ ? shortcut_->Forward(x) : x;
  out += shortcut;
  at::relu_(out);
  return out;
}

absl::Status BottleneckBlock::Fuse() {
  D2X_RETURN_IF_ERROR(FuseIfSet(shortcut_));
  D2X_RETURN_IF_ERROR(conv1_->Fuse());
  D2X_RETURN_IF_ERROR(conv2_->Fuse());
  return conv3_->Fuse();
}

// ---------------------------------------------------------------------------------------------
// ResNet

absl::StatusOr<std::shared_ptr<ResNet>> ResNet::Create(
    std::shared_ptr<BasicStem> stem,
    std::vector<std::vector<std::shared_ptr<CnnBlockBase>>> stages,
    const std::vector<std::string>& out_features) {
  if (!stem) return absl::InvalidArgumentError("ResNet: stem is null");
  if (out_features.empty()) {
    return absl::InvalidArgumentError("ResNet: out_features must not be empty");
  }
  // Drop the stages after the last requested output, like detectron2.
  const std::map<std::string, size_t> stage_index = {
      {"res2", 1}, {"res3", 2}, {"res4", 3}, {"res5", 4}};
  size_t num_stages = 0;
  for (const std::string& f : out_features) {
    auto it = stage_index.find(f);
    if (it != stage_index.end()) num_stages = std::max(num_stages, it->second);
  }
  if (stages.size() > num_stages) stages.resize(num_stages);

  auto net = std::make_shared<ResNet>();
  net->stem_ = net->register_module("stem", std::move(stem));
  int64_t stride = net->stem_->stride();
  net->shapes_["stem"] = {net->stem_->out_channels(), stride};
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("ResNet: stage ", i, " has no blocks"));
    }
    const std::string name = absl::StrCat("res", i + 2);
    auto container = std::make_shared<torch::nn::Module>("Sequential");
    for (size_t b = 0; b < stages[i].size(); ++b) {
      if (!stages[i][b]) {
        return absl::InvalidArgumentError(absl::StrCat("ResNet: ", name, ".", b, " is null"));
      }
      container->register_module(std::to_string(b), stages[i][b]);
      stride *= stages[i][b]->stride();
    }
    net->register_module(name, container);
    net->stage_names_.push_back(name);
    net->shapes_[name] = {stages[i].back()->out_channels(), stride};
  }
  net->stages_ = std::move(stages);
  for (const std::string& f : out_features) {
    if (!net->shapes_.count(f)) {
      std::vector<std::string> available = {"stem"};
      available.insert(available.end(), net->stage_names_.begin(), net->stage_names_.end());
      return absl::InvalidArgumentError(absl::StrCat("ResNet: unknown out_feature '", f,
                                                     "'; available: ",
                                                     absl::StrJoin(available, ", ")));
    }
  }
  net->out_features_ = out_features;
  return net;
}

FeatureMap ResNet::Forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "ResNet takes an input of shape (N, C, H, W). Got ", x.sizes());
  FeatureMap outputs;
  auto wanted = [this](const std::string& name) {
    return std::find(out_features_.begin(), out_features_.end(), name) != out_features_.end();
  };
  at::Tensor y = stem_->Forward(x);
  if (wanted("stem")) outputs["stem"] = y;
  for (size_t i = 0; i < stages_.size(); ++i) {
    for (const auto& block : stages_[i]) y = block->Forward(y);
    if (wanted(stage_names_[i])) outputs[stage_names_[i]] = y;
  }
  return outputs;
}

std::map<std::string, ShapeSpec> ResNet::output_shape() const {
  std::map<std::string, ShapeSpec> out;
  for (const std::string& f : out_features_) out[f] = shapes_.at(f);
  return out;
}

absl::Status ResNet::Fuse() {
  D2X_RETURN_IF_ERROR(stem_->Fuse());
  for (const auto& stage : stages_) {
    for (const auto& block : stage) D2X_RETURN_IF_ERROR(block->Fuse());
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// build_resnet_backbone

absl::StatusOr<std::shared_ptr<ResNet>> BuildResNet(const ResNetConfig& c) {
  const std::map<int64_t, std::vector<int64_t>> blocks_per_depth = {
      {18, {2, 2, 2, 2}}, {34, {3, 4, 6, 3}}, {50, {3, 4, 6, 3}},
      {101, {3, 4, 23, 3}}, {152, {3, 8, 36, 3}}};
  auto it = blocks_per_depth.find(c.depth);
  if (it == blocks_per_depth.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MODEL.RESNETS.DEPTH must be one of 18, 34, 50, 101, 152, got ", c.depth));
  }
  const std::vector<int64_t>& num_blocks = it->second;
  if (c.res5_dilation != 1 && c.res5_dilation != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("MODEL.RESNETS.RES5_DILATION must be 1 or 2, got ", c.res5_dilation));
  }
  const bool any_deform = std::any_of(c.deform_on_per_stage.begin(),
                                      c.deform_on_per_stage.end(), [](bool b) { return b; });
  if (c.depth == 18 || c.depth == 34) {
    if (c.res2_out_channels != 64) {
      return absl::InvalidArgumentError(
          "Must set MODEL.RESNETS.RES2_OUT_CHANNELS = 64 for R18/R34");
    }
    if (any_deform) {
      return absl::InvalidArgumentError(
          "MODEL.RESNETS.DEFORM_ON_PER_STAGE unsupported for R18/R34");
    }
    if (c.res5_dilation != 1) {
      return absl::InvalidArgumentError("Must set MODEL.RESNETS.RES5_DILATION = 1 for R18/R34");
    }
    if (c.num_groups != 1) {
      return absl::InvalidArgumentError("Must set MODEL.RESNETS.NUM_GROUPS = 1 for R18/R34");
    }
  }
  if (any_deform) {
    return absl::UnimplementedError(
        "MODEL.RESNETS.DEFORM_ON_PER_STAGE: deformable convolution is not supported by d2x");
  }

  D2X_ASSIGN_OR_RETURN(auto stem, BasicStem::Create(c.in_channels, c.stem_out_channels, c.norm));
  int64_t in_channels = c.stem_out_channels;
  int64_t out_channels = c.res2_out_channels;
  int64_t bottleneck_channels = c.num_groups * c.width_per_group;
  std::vector<std::vector<std::shared_ptr<CnnBlockBase>>> stages;
  for (int idx = 0; idx < 4; ++idx) {
    const int stage_idx = idx + 2;
    const int64_t dilation = stage_idx == 5 ? c.res5_dilation : 1;
    const int64_t first_stride = (idx == 0 || (stage_idx == 5 && dilation == 2)) ? 1 : 2;
    std::vector<std::shared_ptr<CnnBlockBase>> blocks;
    int64_t block_in = in_channels;
    for (int64_t b = 0; b < num_blocks[idx]; ++b) {
      const int64_t stride = b == 0 ? first_stride : 1;
      if (c.depth == 18 || c.depth == 34) {
        D2X_ASSIGN_OR_RETURN(auto block,
                             BasicBlock::Create(block_in, out_channels, stride, c.norm));
        blocks.push_back(std::move(block));
      } else {
        BottleneckOptions o;
        o.in_channels = block_in;
        o.out_channels = out_channels;
        o.bottleneck_channels = bottleneck_channels;
        o.stride = stride;
        o.num_groups = c.num_groups;
        o.norm = c.norm;
        o.stride_in_1x1 = c.stride_in_1x1;
        o.dilation = dilation;
        D2X_ASSIGN_OR_RETURN(auto block, BottleneckBlock::Create(o));
        blocks.push_back(std::move(block));
      }
      block_in = out_channels;
    }
    stages.push_back(std::move(blocks));
    in_channels = out_channels;
    out_channels *= 2;
    bottleneck_channels *= 2;
  }
  return ResNet::Create(std::move(stem), std::move(stages), c.out_features);
}

}  // namespace d2x::modeling
