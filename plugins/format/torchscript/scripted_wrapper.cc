#include "plugins/format/torchscript/scripted_wrapper.h"

#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>
#include <torch/script.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace d2x::torchscript {
namespace {

// Resolves `torch.<op>` to ATen builtins and `torch.ops.d2x.<op>` / `d2x.<op>` to d2x's custom
// ops (the C++ frontend's native resolver knows `torch` only as ATen and has no `torch.ops`).
struct D2xResolver : torch::jit::Resolver {
  std::shared_ptr<torch::jit::SugaredValue> resolveValue(const std::string& name,
                                                         torch::jit::GraphFunction&,
                                                         const torch::jit::SourceRange&) override {
    if (name == "torch") return std::make_shared<torch::jit::BuiltinModule>("aten");
    if (name == "d2x") return std::make_shared<torch::jit::BuiltinModule>("d2x");
    return nullptr;
  }
  c10::TypePtr resolveType(const std::string&, const torch::jit::SourceRange&) override {
    return nullptr;
  }
};

// ScalarType codes (TorchScript takes dtypes as ints; the C++ frontend has no torch.float32).
constexpr int kFloat32 = static_cast<int>(c10::ScalarType::Float);
constexpr int kInt64 = static_cast<int>(c10::ScalarType::Long);

}  // namespace

absl::StatusOr<std::string> ScriptedWrapperSource(const std::vector<std::string>& output_names) {
  auto index_of = [&](const std::string& name) -> int {
    auto it = std::find(output_names.begin(), output_names.end(), name);
    return it == output_names.end() ? -1 : static_cast<int>(it - output_names.begin());
  };
  const int counts_index = index_of("num_instances");
  const int size_index = index_of("image_size");
  if (counts_index < 0 || size_index < 0) {
    return absl::InvalidArgumentError(
        "scripting: the traced model's outputs must include image_size and num_instances (the "
        "detector I/O contract, core/export/detector_io.h)");
  }
  std::string fields;
  const int segments_count_index = index_of("num_segments");
  for (size_t i = 0; i < output_names.size(); ++i) {
    const std::string& name = output_names[i];
    if (name == "num_instances" || name == "image_size" || name == "num_segments") continue;
    if (name == "sem_seg") {
      absl::StrAppend(&fields, "        result[\"", name, "\"] = outputs[", i,
                      "][i, :, :h, :w]\n");
    } else if (name == "panoptic_seg") {
      absl::StrAppend(&fields, "        result[\"", name, "\"] = outputs[", i, "][i, :h, :w]\n");
    } else if (name == "segments_info" || name == "segments_score") {
      if (segments_count_index < 0) {
        return absl::InvalidArgumentError("scripting: segments outputs without num_segments");
      }
      absl::StrAppend(&fields, "        result[\"", name, "\"] = outputs[", i,
                      "][seg_start:seg_end]\n");
    } else if (name == "pred_masks") {
      absl::StrAppend(&fields, "        result[\"", name, "\"] = outputs[", i,
                      "][start:end, :h, :w]\n");
    } else {
      absl::StrAppend(&fields, "        result[\"", name, "\"] = outputs[", i,
                      "][start:end]\n");
    }
  }
  // The batching repeats MakeDetectorInputs (core/export/detector_io.cc): raw pixels at the
  // top-left of a zero canvas of the largest size, rounded up to the size divisibility.
  std::string source = R"(
def inference(self, images: List[Tensor], output_sizes: List[List[int]]) -> List[Dict[str, Tensor]]:
    n = len(images)
    assert n > 0, "d2x: no images"
    assert len(output_sizes) == n, "d2x: one output size per image is needed"
    channels = images[0].size(0)
    max_h = 0
    max_w = 0
    for image in images:
        assert image.dim() == 3, "d2x: images must be [C, H, W]"
        assert image.size(0) == channels, "d2x: images must have the same number of channels"
        max_h = max(max_h, image.size(1))
        max_w = max(max_w, image.size(2))
    if self.square_size > 0:
        assert max_h <= self.square_size and max_w <= self.square_size, "d2x: image larger than the square padding"
        max_h = self.square_size
        max_w = self.square_size
    d = self.size_divisibility
    if d > 1:
        max_h = (max_h + d - 1) // d * d
        max_w = (max_w + d - 1) // d * d
    batch = torch.zeros([n, channels, max_h, max_w], dtype=FLOAT32)
    image_sizes: List[List[int]] = []
    for i in range(n):
        image = images[i]
        batch[i, :, :image.size(1), :image.size(2)] = image
        image_sizes.append([image.size(1), image.size(2)])
    outputs = self.model.forward(batch, torch.tensor(image_sizes, dtype=INT64), torch.tensor(output_sizes, dtype=INT64))
    counts = outputs[COUNTS]
    sizes = outputs[SIZES]
    results: List[Dict[str, Tensor]] = []
    start = 0
    seg_start = 0
    for i in range(n):
        end = start + int(counts[i])
        seg_end = seg_start + SEGMENT_COUNT
        h = int(sizes[i][0])
        w = int(sizes[i][1])
        result: Dict[str, Tensor] = {}
FIELDS        results.append(result)
        start = end
        seg_start = seg_end
    return results

def forward(self, images: List[Tensor]) -> List[Dict[str, Tensor]]:
    output_sizes: List[List[int]] = []
    for image in images:
        output_sizes.append([image.size(1), image.size(2)])
    return self.inference(images, output_sizes)
)";
  return absl::StrReplaceAll(source, {{"FLOAT32", std::to_string(kFloat32)},
                                      {"INT64", std::to_string(kInt64)},
                                      {"COUNTS", std::to_string(counts_index)},
                                      {"SIZES", std::to_string(size_index)},
                                      {"SEGMENT_COUNT",
                                       segments_count_index < 0
                                           ? std::string("0")
                                           : absl::StrCat("int(outputs[", segments_count_index,
                                                          "][i])")},
                                      {"FIELDS", fields}});
}

absl::StatusOr<torch::jit::Module> BuildScriptedWrapper(const torch::jit::Module& traced,
                                                        const std::vector<std::string>& output_names,
                                                        int64_t size_divisibility,
                                                        int64_t square_size) {
  absl::StatusOr<std::string> source = ScriptedWrapperSource(output_names);
  if (!source.ok()) return source.status();
  try {
    torch::jit::Module wrapper(c10::QualifiedName("__torch__.d2x.ScriptedDetector"));
    wrapper.register_attribute("training", c10::BoolType::get(), false);
    wrapper.register_attribute("size_divisibility", c10::IntType::get(), size_divisibility);
    wrapper.register_attribute("square_size", c10::IntType::get(), square_size);
    wrapper.register_module("model", traced);
    wrapper.define(*source, std::make_shared<D2xResolver>());
    return wrapper;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("compiling the scripted wrapper failed: ",
                                            e.what_without_backtrace(), "\nsource:\n", *source));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("compiling the scripted wrapper failed: ", e.what(),
                                            "\nsource:\n", *source));
  }
}

}  // namespace d2x::torchscript
