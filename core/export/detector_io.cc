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

bool IsPanopticOutput(const std::string& name) {
  return name == kPanopticSegOutput || name == kSemSegOutput || name == kSegmentsInfoOutput ||
         name == kSegmentsScoreOutput || name == kNumSegmentsOutput;
}

// The per-image semantic / panoptic outputs (see detector_io.h), when present.
absl::Status AddPanopticOutputs(const std::map<std::string, at::Tensor>& named,
                                std::vector<ImageResult>& results) {
  const int64_t n = static_cast<int64_t>(results.size());
  auto per_image = [&](const char* name, int64_t dims) -> absl::StatusOr<at::Tensor> {
    auto it = named.find(name);
    if (it == named.end()) return at::Tensor();
    const at::Tensor& t = it->second;
    if (t.dim() != dims || t.size(0) != n) {
      return absl::InvalidArgumentError(absl::StrCat("detector output '", name, "' has shape ",
                                                     Shape(t), ", expected ", dims,
                                                     " dims with ", n, " images"));
    }
    return t;
  };
  absl::StatusOr<at::Tensor> sem_seg = per_image(kSemSegOutput, 4);
  if (!sem_seg.ok()) return sem_seg.status();
  absl::StatusOr<at::Tensor> panoptic = per_image(kPanopticSegOutput, 3);
  if (!panoptic.ok()) return panoptic.status();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t h = results[i].instances.image_height, w = results[i].instances.image_width;
    if (sem_seg->defined()) {
      results[i].sem_seg = (*sem_seg)[i].slice(1, 0, h).slice(2, 0, w).contiguous();
    }
    if (panoptic->defined()) {
      results[i].panoptic_seg = (*panoptic)[i].slice(0, 0, h).slice(1, 0, w).contiguous();
    }
  }
  auto info_it = named.find(kSegmentsInfoOutput);
  auto score_it = named.find(kSegmentsScoreOutput);
  auto count_it = named.find(kNumSegmentsOutput);
  if (info_it == named.end() && score_it == named.end() && count_it == named.end()) {
    return absl::OkStatus();
  }
  if (info_it == named.end() || score_it == named.end() || count_it == named.end()) {
    return absl::InvalidArgumentError(
        "detector outputs: segments_info, segments_score and num_segments go together");
  }
  const at::Tensor info = info_it->second.to(at::kLong).contiguous();
  const at::Tensor scores = score_it->second.to(at::kFloat).contiguous();
  const at::Tensor counts = count_it->second.to(at::kLong).contiguous();
  if (info.dim() != 2 || info.size(1) != 5 || scores.dim() != 1 ||
      scores.size(0) != info.size(0) || counts.dim() != 1 || counts.size(0) != n ||
      counts.sum().item<int64_t>() != info.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "detector outputs: segments_info ", Shape(info), ", segments_score ", Shape(scores),
        " and num_segments ", Shape(counts), " are inconsistent"));
  }
  const int64_t* row = info.data_ptr<int64_t>();
  const float* score = scores.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < counts[i].item<int64_t>(); ++k, row += 5, ++score) {
      PanopticSegment segment;
      segment.id = static_cast<int32_t>(row[0]);
      segment.category_id = row[1];
      segment.isthing = row[2] != 0;
      segment.area = row[3];
      segment.instance_id = row[4];
      segment.score = *score;
      results[i].segments_info.push_back(segment);
    }
  }
  return absl::OkStatus();
}

// Per-image tensors [..., h_i, w_i] padded to a common canvas and stacked.
at::Tensor StackPadded(const std::vector<at::Tensor>& parts) {
  int64_t max_h = 0, max_w = 0;
  for (const at::Tensor& p : parts) {
    max_h = std::max(max_h, p.size(-2));
    max_w = std::max(max_w, p.size(-1));
  }
  std::vector<int64_t> shape = {static_cast<int64_t>(parts.size())};
  for (int64_t d = 0; d + 2 < parts[0].dim(); ++d) shape.push_back(parts[0].size(d));
  shape.push_back(max_h);
  shape.push_back(max_w);
  at::Tensor out = at::zeros(shape, parts[0].options());
  for (size_t i = 0; i < parts.size(); ++i) {
    out[static_cast<int64_t>(i)]
        .slice(-2, 0, parts[i].size(-2))
        .slice(-1, 0, parts[i].size(-1))
        .copy_(parts[i]);
  }
  return out;
}

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

std::vector<std::string> PanopticOutputNames(std::vector<std::string> fields) {
  std::vector<std::string> names = DetectorOutputNames(std::move(fields));
  for (const char* name : {kPanopticSegOutput, kSemSegOutput, kSegmentsInfoOutput,
                           kSegmentsScoreOutput, kNumSegmentsOutput}) {
    names.push_back(name);
  }
  return names;
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
    if (absl::Status s = AddPanopticOutputs(named, results); !s.ok()) return s;
    for (const auto& [name, tensor] : named) {
      if (name == kImageSizeOutput || name == kNumInstancesOutput || IsPanopticOutput(name)) {
        continue;
      }
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

absl::StatusOr<ImageResult> ImageResultFromFields(const std::map<std::string, at::Tensor>& fields,
                                                  int64_t height, int64_t width) {
  ImageResult result;
  result.instances.image_height = height;
  result.instances.image_width = width;
  std::map<std::string, at::Tensor> dense;
  for (const auto& [name, tensor] : fields) {
    if (IsPanopticOutput(name)) {
      dense[name] = tensor.unsqueeze(0);  // as a batch of one
    } else {
      result.instances.fields[name] = tensor;
    }
  }
  if (dense.empty()) return result;
  if (dense.count(kSegmentsInfoOutput)) {
    dense[kSegmentsInfoOutput] = dense[kSegmentsInfoOutput].squeeze(0);
    if (!dense.count(kSegmentsScoreOutput)) {
      return absl::InvalidArgumentError("segments_info without segments_score");
    }
    dense[kSegmentsScoreOutput] = dense[kSegmentsScoreOutput].squeeze(0);
    dense[kNumSegmentsOutput] = at::full({1}, dense[kSegmentsInfoOutput].size(0), at::kLong);
  }
  std::vector<ImageResult> one = {result};
  if (absl::Status s = AddPanopticOutputs(dense, one); !s.ok()) return s;
  return one[0];
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
      if (name == kSemSegOutput || name == kPanopticSegOutput) {
        std::vector<at::Tensor> parts;
        for (int64_t i = 0; i < n; ++i) {
          const at::Tensor& t =
              name == kSemSegOutput ? results[i].sem_seg : results[i].panoptic_seg;
          if (!t.defined()) {
            return absl::InvalidArgumentError(
                absl::StrCat("result of image ", i, " has no ", name));
          }
          parts.push_back(t);
        }
        outputs.push_back(StackPadded(parts));
        continue;
      }
      if (name == kSegmentsInfoOutput || name == kSegmentsScoreOutput ||
          name == kNumSegmentsOutput) {
        std::vector<int64_t> info, counts;
        std::vector<float> scores;
        for (int64_t i = 0; i < n; ++i) {
          counts.push_back(static_cast<int64_t>(results[i].segments_info.size()));
          for (const PanopticSegment& s : results[i].segments_info) {
            info.insert(info.end(), {s.id, s.category_id, s.isthing ? 1 : 0, s.area,
                                     s.instance_id});
            scores.push_back(s.score);
          }
        }
        if (name == kSegmentsInfoOutput) {
          outputs.push_back(at::tensor(info, at::kLong).view({-1, 5}));
        } else if (name == kSegmentsScoreOutput) {
          outputs.push_back(at::tensor(scores, at::kFloat));
        } else {
          outputs.push_back(at::tensor(counts, at::kLong));
        }
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
