#include <ATen/ATen.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/io/coco_results.h"
#include "core/io/draw.h"
#include "core/io/files.h"
#include "core/io/panoptic.h"
#include "core/io/image.h"
#include "core/testing/fixtures.h"
#include "gtest/gtest.h"

namespace d2x::io {
namespace {

std::string TmpPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(ImageTest, FixturePngMatchesDetectron2PreprocessedInput) {
  absl::StatusOr<std::string> path = testing::FixturePath("mask_rcnn", "input_200x296.png");
  ASSERT_TRUE(path.ok()) << path.status();
  absl::StatusOr<at::Tensor> image = ReadImage(*path, "BGR");
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->sizes(), (std::vector<int64_t>{3, 200, 296}));
  absl::StatusOr<at::Tensor> pre = testing::LoadFixtureTensor("mask_rcnn", "200x296.preprocessed");
  ASSERT_TRUE(pre.ok()) << pre.status();
  // PIXEL_STD is 1: preprocessed = image - mean, padded to 224x320.
  at::Tensor mean = at::tensor({103.530f, 116.280f, 123.675f}).view({3, 1, 1});
  at::Tensor expected = (*pre)[0].slice(1, 0, 200).slice(2, 0, 296) + mean;
  EXPECT_LT((image->to(at::kFloat) - expected).abs().max().item<float>(), 1e-3);
}

TEST(ImageTest, RgbIsChannelFlipOfBgr) {
  absl::StatusOr<std::string> path = testing::FixturePath("mask_rcnn", "input_256x320.png");
  ASSERT_TRUE(path.ok());
  auto bgr = ReadImage(*path, "BGR");
  auto rgb = ReadImage(*path, "RGB");
  ASSERT_TRUE(bgr.ok() && rgb.ok());
  EXPECT_TRUE(at::equal(bgr->flip({0}), *rgb));
}

TEST(ImageTest, WriteThenReadRoundTrips) {
  at::Tensor img = at::randint(0, 255, {3, 17, 23}, at::kByte);
  ASSERT_TRUE(WriteImage(TmpPath("rt.png"), img).ok());
  auto back = ReadImage(TmpPath("rt.png"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(at::equal(*back, img));
}

TEST(ImageTest, ErrorsNameTheFile) {
  auto missing = ReadImage("/nonexistent/x.png");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/x.png"), std::string::npos);
  std::ofstream(TmpPath("bad.png")) << "not a png";
  auto bad = ReadImage(TmpPath("bad.png"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("cannot decode"), std::string::npos);
  EXPECT_FALSE(ReadImage(TmpPath("bad.png"), "YUV").ok());
  EXPECT_FALSE(WriteImage("/nonexistent/dir/out.png", at::zeros({3, 4, 4}, at::kByte)).ok());
}

TEST(RleTest, ColumnMajorCountsStartWithZeros) {
  // 2x3 mask:
  //   0 1 1
  //   0 0 1
  // column-major: 0 0 | 1 0 | 1 1  -> counts [3, 1, 0?] -> zeros=2+? walk: 0,0,1,0,1,1
  at::Tensor m = at::tensor({0, 1, 1, 0, 0, 1}, at::kByte).view({2, 3});
  EXPECT_EQ(EncodeRleCounts(m), (std::vector<int64_t>{2, 1, 1, 2}));
  at::Tensor ones = at::ones({2, 2}, at::kBool);
  EXPECT_EQ(EncodeRleCounts(ones), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(EncodeRleCounts(at::zeros({3, 3}, at::kBool)), (std::vector<int64_t>{9}));
}

Instances MakeInstances() {
  Instances inst;
  inst.image_height = 4;
  inst.image_width = 5;
  inst.fields["pred_boxes"] = at::tensor({1.f, 2.f, 4.f, 3.5f}).view({1, 4});
  inst.fields["scores"] = at::tensor({0.75f});
  inst.fields["pred_classes"] = at::tensor({int64_t{2}});
  at::Tensor mask = at::zeros({1, 4, 5}, at::kBool);
  mask.index_put_({0, 1, 2}, true);
  inst.fields["pred_masks"] = mask;
  inst.fields["pred_keypoints"] = at::tensor({1.5f, 2.5f, 0.9f}).view({1, 1, 3});
  return inst;
}

TEST(CocoResultsTest, DetectronConventions) {
  nlohmann::json out = nlohmann::json::array();
  AppendCocoResults(MakeInstances(), 7, {}, out);
  ASSERT_EQ(out.size(), 1u);
  const auto& r = out[0];
  EXPECT_EQ(r["image_id"], 7);
  EXPECT_EQ(r["category_id"], 2);
  EXPECT_EQ(r["bbox"], nlohmann::json({1.0, 2.0, 3.0, 1.5}));
  EXPECT_FLOAT_EQ(r["score"].get<float>(), 0.75f);
  EXPECT_EQ(r["segmentation"]["size"], nlohmann::json({4, 5}));
  // (y=1, x=2) is column-major index 2*4+1 = 9.
  EXPECT_EQ(r["segmentation"]["counts"], nlohmann::json({9, 1, 10}));
  EXPECT_EQ(r["keypoints"], nlohmann::json({1.0, 2.0, 0.8999999761581421}));

  nlohmann::json coco = nlohmann::json::array();
  AppendCocoResults(MakeInstances(), 0, {/*coco_category_ids=*/true}, coco);
  EXPECT_EQ(coco[0]["category_id"], 3);
}

TEST(DrawTest, DrawsMasksAndBoxes) {
  at::Tensor image = at::zeros({3, 4, 5}, at::kByte);
  ImageResult result;
  result.instances = MakeInstances();
  auto drawn = DrawResult(image, result);
  ASSERT_TRUE(drawn.ok()) << drawn.status();
  EXPECT_EQ(drawn->sizes(), image.sizes());
  EXPECT_GT((*drawn).index({at::indexing::Slice(), 1, 2}).sum().item<int64_t>(), 0);
  result.instances.fields["pred_masks"] = at::zeros({1, 9, 9}, at::kBool);
  EXPECT_FALSE(DrawResult(image, result).ok());
}

}  // namespace
}  // namespace d2x::io

namespace d2x::io {
namespace {

TEST(PanopticTest, PngRoundTripsIds) {
  at::Tensor ids = at::tensor({0, 1, 255, 256, 70000, 16777215}, at::kInt).view({2, 3});
  const std::string path = TmpPath("pan.png");
  ASSERT_TRUE(WritePanopticPng(path, ids).ok());
  auto back = ReadPanopticPng(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(at::equal(*back, ids));
  EXPECT_FALSE(WritePanopticPng(path, at::full({2, 2}, 1 << 24, at::kInt)).ok());
}

TEST(PanopticTest, SegmentsInfoJson) {
  PanopticSegment thing{1, 3, true, 40, 0.9f, 0};
  PanopticSegment stuff{2, 41, false, 100, 0.f, -1};
  nlohmann::json j = SegmentsInfoJson({thing, stuff});
  EXPECT_EQ(j[0]["isthing"], true);
  EXPECT_EQ(j[0]["instance_id"], 0);
  EXPECT_EQ(j[1]["category_id"], 41);
  EXPECT_FALSE(j[1].contains("score"));
}

TEST(FilesTest, AtomicWriteLeavesNoTempFile) {
  const std::string path = TmpPath("atomic.txt");
  ASSERT_TRUE(WriteFileAtomically(path, "hello").ok());
  std::ifstream in(path);
  std::string s;
  in >> s;
  EXPECT_EQ(s, "hello");
  EXPECT_FALSE(WriteFileAtomically("/nonexistent/dir/x.txt", "x").ok());
  for (const auto& e : std::filesystem::directory_iterator(std::getenv("TEST_TMPDIR"))) {
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace d2x::io
