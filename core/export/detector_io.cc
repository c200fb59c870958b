#include "core/export/detector_io.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/flatten/schema.h"
#include "core/flatten/schema_json.h"
#include "core/flatten/value.h"

namespace d2x::exporting {
namespace {

std::string Shape(const at::Tensor& t) { return c10::str(t.sizes()); }

int64_t RoundUp(int64_t v, int64_t d) { return d > 1 ? (v + d - 1) / d * d : v; }

}  // namespace

const std::vector<std::string>& DetectorInputNames() {
  static const auto* names =
      new std::vector<std::string>{kImagesInput, kImageSizesInput, kOutputSizesInput};
  return *names;
}

absl::StatusOr<std::vector<at::Tensor>> MakeDetectorInputs(const std::vector<ImageInput>& batch,
                                                           int64_t size_divisibility,
                                                           int64_t square_size) {
  if (batch.empty()) return absl::InvalidArgumentError("MakeDetectorInputs: empty batch");
  int64_t max_h = 0, max_w = 0;
  const int64_t channels = batch[0].image.defined() ? batch[0].image.size(0) : 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const at::Tensor& image = batch[i].image;
    if (!image.defined() || image.dim() != 3 || image.size(0) != channels || channels <= 0 ||
        image.size(1) <= 0 || image.size(2) <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MakeDetectorInputs: image ", i, " must be a non-empty [C, H, W] tensor with C = ",
          channels, ", got ", image.defined() ? Shape(image) : std::string("undefined")));
    }
    if (image.is_complex() || image.scalar_type() == at::kBool) {
      return absl::InvalidArgumentError(absl::StrCat("MakeDetectorInputs: image ", i,
                                                     " has unsupported dtype ",
                                                     c10::toString(image.scalar_type())));
    }
    if (batch[i].height < 0 || batch[i].width < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MakeDetectorInputs: image ", i, " has a negative requested output size ",
          batch[i].height, "x", batch[i].width));
    }
    max_h = std::max(max_h, image.size(1));
    max_w = std::max(max_w, image.size(2));
  }
  if (square_size > 0) {
    if (max_h > square_size || max_w > square_size) {
      return absl::InvalidArgumentError(absl::StrCat("MakeDetectorInputs: an image of ", max_h, "x",
                                                     max_w, " does not fit square_size ",
                                                     square_size));
    }
    max_h = max_w = square_size;
  }
  max_h = RoundUp(max_h, size_divisibility);
  max_w = RoundUp(max_w, size_divisibility);
  const int64_t n = static_cast<int64_t>(batch.size());
  at::Tensor images = at::zeros({n, channels, max_h, max_w}, at::kFloat);
  at::Tensor image_sizes = at::empty({n, 2}, at::kLong);
  at::Tensor output_sizes = at::empty({n, 2}, at::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor& image = batch[i].image;
    const int64_t h = image.size(1), w = image.size(2);
    images[i].slice(1, 0, h).slice(2, 0, w).copy_(image);
    image_sizes[i][0] = h;
    image_sizes[i][1] = w;
    output_sizes[i][0] = batch[i].height > 0 ? batch[i].height : h;
    output_sizes[i][1] = batch[i].width > 0 ? batch[i].width : w;
  }
  return std::vector<at::Tensor>{images, image_sizes, output_sizes};
}

std::vector<std::string> DetectorOutputNames(std::vector<std::string> fields) {
  std::sort(fields.begin(), fields.end());
  fields.push_back(kImageSizeOutput);
  fields.push_back(kNumInstancesOutput);
  return fields;
}

std::string DetectorOutputSchemaJson(const std::vector<std::string>& fields) {
  flatten::InstancesValue instances;
  for (const std::string& field : fields) {
    at::Tensor placeholder = at::zeros({0});
    instances.fields[field] = field == "pred_boxes" ? flatten::Value::Boxes(placeholder)
                                                    : flatten::Value(placeholder);
  }
  auto [values, schema] = flatten::FlattenToTuple(flatten::Value(std::move(instances)));
  return flatten::SchemaToJson(*schema);
}

absl::StatusOr<std::vector<ImageResult>> DetectorOutputsToResults(
    const std::vector<at::Tensor>& outputs, const std::vector<std::string>& output_names) {
  if (outputs.size() != output_names.size()) {
    return absl::InvalidArgumentError(absl::StrCat("detector outputs: got ", outputs.size(),
                                                   " tensors for ", output_names.size(),
                                                   " names (", absl::StrJoin(output_names, ", "),
                                                   ")"));
  }
  std::map<std::string, at::Tensor> named;
  for (size_t i = 0; i < outputs.size(); ++i) named[output_names[i]] = outputs[i];
  auto image_size_it = named.find(kImageSizeOutput);
  auto counts_it = named.find(kNumInstancesOutput);
  if (image_size_it == named.end() || counts_it == named.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "detector outputs must include '", kImageSizeOutput, "' and '", kNumInstancesOutput,
        "', got: ", absl::StrJoin(output_names, ", ")));
  }
  try {
    const at::Tensor sizes = image_size_it->second.to(at::kLong).contiguous();
    const at::Tensor counts = counts_it->second.to(at::kLong).contiguous();
    if (sizes.dim() != 2 || sizes.size(1) != 2 || counts.dim() != 1 ||
        counts.size(0) != sizes.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "detector outputs: image_size must be [N, 2] and num_instances [N], got ", Shape(sizes),
          " and ", Shape(counts)));
    }
    const int64_t n = sizes.size(0);
    const std::vector<int64_t> count_list(counts.data_ptr<int64_t>(),
                                          counts.data_ptr<int64_t>() + n);
    int64_t total = 0;
    for (int64_t c : count_list) {
      if (c < 0) return absl::InvalidArgumentError("detector outputs: negative num_instances");
      total += c;
    }
    std::vector<ImageResult> results(n);
    for (int64_t i = 0; i < n; ++i) {
      results[i].instances.image_height = sizes[i][0].item<int64_t>();
      results[i].instances.image_width = sizes[i][1].item<int64_t>();
    }
    for (const auto& [name, tensor] : named) {
      if (name == kImageSizeOutput || name == kNumInstancesOutput) continue;
      if (tensor.dim() == 0 || tensor.size(0) != total) {
        return absl::InvalidArgumentError(absl::StrCat(
            "detector output '", name, "' has shape ", Shape(tensor), ", expected ", total,
            " rows (the sum of num_instances)"));
      }
      std::vector<at::Tensor> parts = tensor.split_with_sizes(count_list, 0);
      for (int64_t i = 0; i < n; ++i) {
        at::Tensor part = parts[i];
        if (name == "pred_masks") {
          const int64_t h = results[i].instances.image_height;
          const int64_t w = results[i].instances.image_width;
          if (part.dim() != 3 || part.size(1) < h || part.size(2) < w) {
            return absl::InvalidArgumentError(absl::StrCat(
                "detector output 'pred_masks' has shape ", Shape(tensor),
                ", too small for image ", i, " of ", h, "x", w));
          }
          part = part.slice(1, 0, h).slice(2, 0, w);
        }
        results[i].instances.fields[name] = part.contiguous();
      }
    }
    return results;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("splitting detector outputs: ", e.what()));
  }
}

absl::StatusOr<std::vector<at::Tensor>> ResultsToDetectorOutputs(
    const std::vector<ImageResult>& results, const std::vector<std::string>& output_names) {
  const int64_t n = static_cast<int64_t>(results.size());
  std::vector<at::Tensor> outputs;
  try {
    int64_t max_h = 0, max_w = 0;
    for (const ImageResult& r : results) {
      max_h = std::max(max_h, r.instances.image_height);
      max_w = std::max(max_w, r.instances.image_width);
    }
    for (const std::string& name : output_names) {
      if (name == kImageSizeOutput) {
        at::Tensor sizes = at::empty({n, 2}, at::kLong);
        for (int64_t i = 0; i < n; ++i) {
          sizes[i][0] = results[i].instances.image_height;
          sizes[i][1] = results[i].instances.image_width;
        }
        outputs.push_back(sizes);
        continue;
      }
      if (name == kNumInstancesOutput) {
        at::Tensor counts = at::empty({n}, at::kLong);
        for (int64_t i = 0; i < n; ++i) counts[i] = results[i].instances.size();
        outputs.push_back(counts);
        continue;
      }
      std::vector<at::Tensor> parts;
      for (int64_t i = 0; i < n; ++i) {
        auto it = results[i].instances.fields.find(name);
        if (it == results[i].instances.fields.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("result of image ", i, " has no field '", name, "'"));
        }
        at::Tensor part = it->second;
        if (name == "pred_masks" && part.dim() == 3) {
          at::Tensor canvas = at::zeros({part.size(0), max_h, max_w}, part.options());
          canvas.slice(1, 0, part.size(1)).slice(2, 0, part.size(2)).copy_(part);
          part = canvas;
        }
        parts.push_back(part);
      }
      if (parts.empty()) {
        return absl::InvalidArgumentError("ResultsToDetectorOutputs: no images");
      }
      outputs.push_back(at::cat(parts, 0));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("concatenating per-image results: ", e.what()));
  }
  return outputs;
}

}  // namespace d2x::exporting
