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

void ExpectScaledClose(const std::string& what, const at::Tensor& actual,
                       const at::Tensor& expected, double rel_tol) {
  ASSERT_TRUE(actual.defined() && expected.defined()) << what;
  const double scale = expected.abs().max().item<double>();
  Closeness c = CompareTensors(actual, expected, 0.0, rel_tol * scale);
  std::cout << "  " << what << ": max |diff| " << c.max_abs << " (" << c.max_rel
            << " of max |expected| " << scale << ")\n";
  EXPECT_TRUE(c.ok) << what << ": " << c.message;
}

}  // namespace d2x::parity
