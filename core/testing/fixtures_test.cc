#include "core/testing/fixtures.h"

#include "gtest/gtest.h"

namespace d2x::testing {
namespace {

TEST(FixturesTest, EveryArchitectureHasAReadableManifestAndTensors) {
  for (const std::string& arch : FixtureArchitectures()) {
    absl::StatusOr<std::vector<std::string>> names = FixtureTensorNames(arch);
    ASSERT_TRUE(names.ok()) << names.status();
    ASSERT_FALSE(names->empty()) << arch;
    absl::StatusOr<at::Tensor> t = LoadFixtureTensor(arch, "256x320.preprocessed");
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->sizes(), (std::vector<int64_t>{1, 3, 256, 320}));
  }
}

TEST(FixturesTest, UnknownTensorIsNotFound) {
  EXPECT_EQ(LoadFixtureTensor("mask_rcnn", "no.such.tensor").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace d2x::testing
