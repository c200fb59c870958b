#include "tests/parity_dense/dense_parity_util.h"

#include <ATen/ATen.h>

#include <iostream>

#include "tests/parity/parity_util.h"

namespace d2x::parity {

ImageInput FixtureImageInput(const std::string& arch, const std::string& key) {
  absl::StatusOr<at::Tensor> image = ReadFixtureInput(arch, key);
  EXPECT_TRUE(image.ok()) << image.status();
  ImageInput input;
  if (image.ok()) input.image = *image;
  return input;
}

}  // namespace d2x::parity
