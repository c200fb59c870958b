#include "core/pipeline/inputs.h"

#include <ATen/ATen.h>

#include "core/io/image.h"
#include "core/modeling/preprocess.h"
#include "core/util/status_macros.h"

namespace d2x::pipeline {

absl::StatusOr<ImageInput> PrepareImage(const config::Config& config, const at::Tensor& chw) {
  D2X_ASSIGN_OR_RETURN(const int64_t min_size, config.GetInt("INPUT.MIN_SIZE_TEST"));
  D2X_ASSIGN_OR_RETURN(const int64_t max_size, config.GetInt("INPUT.MAX_SIZE_TEST"));
  D2X_ASSIGN_OR_RETURN(at::Tensor resized,
                       modeling::ApplyTestResize(chw.permute({1, 2, 0}), min_size, max_size));
  ImageInput input;
  input.image = resized.permute({2, 0, 1}).to(at::kFloat).contiguous();
  input.height = chw.size(1);
  input.width = chw.size(2);
  return input;
}

absl::StatusOr<PreparedImages> PrepareImages(const config::Config& config,
                                             const std::vector<std::string>& paths) {
  D2X_ASSIGN_OR_RETURN(const std::string format, config.GetString("INPUT.FORMAT"));
  PreparedImages prepared;
  for (const std::string& path : paths) {
    D2X_ASSIGN_OR_RETURN(at::Tensor image, io::ReadImage(path, format));
    D2X_ASSIGN_OR_RETURN(ImageInput input, PrepareImage(config, image));
    prepared.originals.push_back(format == "RGB" ? image.flip({0}) : image);
    prepared.inputs.push_back(std::move(input));
  }
  return prepared;
}

}  // namespace d2x::pipeline
