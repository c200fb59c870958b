#include "core/verify/panoptic_match.h"

#include <ATen/ATen.h>

#include "core/verify/compare.h"
#include "gtest/gtest.h"

namespace d2x::verify {
namespace {

// A 40x50 panoptic result: stuff segment 1 (category 3) everywhere, thing segments 2 (category
// 7, detection 0) and 3 (category 9, detection 1) as rectangles, a small stuff segment 4
// (category 5, 2x5 = 10 pixels) and void (0) in one corner.
ImageResult Panoptic() {
  ImageResult r;
  at::Tensor seg = at::ones({40, 50}, at::kInt);
  seg.slice(0, 5, 25).slice(1, 5, 20).fill_(2);
  seg.slice(0, 10, 35).slice(1, 25, 45).fill_(3);
  seg.slice(0, 36, 38).slice(1, 40, 45).fill_(4);
  seg.slice(0, 0, 3).slice(1, 0, 3).fill_(0);
  r.panoptic_seg = seg;
  r.instances.image_height = 40;
  r.instances.image_width = 50;
  r.instances.fields["pred_boxes"] =
      at::tensor({5.f, 5.f, 20.f, 25.f, 25.f, 10.f, 45.f, 35.f}).view({2, 4});
  r.instances.fields["scores"] = at::tensor({0.9f, 0.8f});
  r.instances.fields["pred_classes"] = at::tensor({7, 9}, at::kLong);
  auto area = [&](int id) { return (seg == id).sum().item<int64_t>(); };
  r.segments_info = {{2, 7, true, area(2), 0.9f, 0},
                     {3, 9, true, area(3), 0.8f, 1},
                     {1, 3, false, area(1), 0.f, -1},
                     {4, 5, false, area(4), 0.f, -1}};
  return r;
}

void SetArea(ImageResult& r, int id) {
  for (PanopticSegment& s : r.segments_info) {
    if (s.id == id) s.area = (r.panoptic_seg == id).sum().item<int64_t>();
  }
}

TEST(MatchSegmentsTest, IdenticalResultsAgree) {
  const ImageResult e = Panoptic();
  SegmentMatchReport r = MatchSegments(e, Panoptic());
  EXPECT_TRUE(r.ok) << r.Summary();
  EXPECT_TRUE(r.identical);
  EXPECT_EQ(r.num_agreeing, 4);
  EXPECT_DOUBLE_EQ(r.pixel_agreement, 1.0);
  EXPECT_DOUBLE_EQ(r.min_region_iou, 1.0);
}

// The same segmentation with the two things numbered the other way round (their detections
// swapped too): the ids are labels, so this agrees, but it is not identical.
TEST(MatchSegmentsTest, RenumberedSegmentsAgree) {
  const ImageResult e = Panoptic();
  ImageResult a = Panoptic();
  at::Tensor seg = e.panoptic_seg.clone();
  seg.masked_fill_(e.panoptic_seg == 2, 3);
  seg.masked_fill_(e.panoptic_seg == 3, 2);
  a.panoptic_seg = seg;
  a.instances.fields["pred_boxes"] = e.instances.fields.at("pred_boxes").flip({0}).contiguous();
  a.instances.fields["scores"] = at::tensor({0.8f, 0.9f});
  a.instances.fields["pred_classes"] = at::tensor({9, 7}, at::kLong);
  a.segments_info = {{2, 9, true, e.segments_info[1].area, 0.8f, 0},
                     {3, 7, true, e.segments_info[0].area, 0.9f, 1},
                     e.segments_info[2], e.segments_info[3]};
  SegmentMatchReport r = MatchSegments(e, a);
  EXPECT_TRUE(r.ok) << r.Summary();
  EXPECT_FALSE(r.identical);
  EXPECT_EQ(r.num_agreeing, 4);
  EXPECT_DOUBLE_EQ(r.pixel_agreement, 1.0);
}

// One pixel moves from the stuff segment to a 300-pixel thing: region IoU 300/301 > 0.99.
TEST(MatchSegmentsTest, OnePixelOnALargeSegmentAgrees) {
  const ImageResult e = Panoptic();
  ImageResult a = Panoptic();
  a.panoptic_seg[25][10] = 2;
  SetArea(a, 1);
  SetArea(a, 2);
  SegmentMatchReport r = MatchSegments(e, a);
  EXPECT_TRUE(r.ok) << r.Summary();
  EXPECT_EQ(r.num_agreeing, 4);
  EXPECT_NEAR(r.min_region_iou, 300.0 / 301.0, 1e-12);
  EXPECT_NEAR(r.pixel_agreement, 1.0 - 1.0 / 2000.0, 1e-12);
}

// The 10-pixel segment losing one pixel (IoU 0.9) agrees at float resolution (one pixel is the
// mask_pixel_floor); losing two (IoU 0.8) it is a disagreeing pair, and 3 of 4 segments is below
// 99%.
TEST(MatchSegmentsTest, SmallSegmentLosingTwoPixelsDisagrees) {
  const ImageResult e = Panoptic();
  ImageResult a = Panoptic();
  a.panoptic_seg[36][40] = 1;
  SetArea(a, 1);
  SetArea(a, 4);
  SegmentMatchReport one = MatchSegments(e, a);
  EXPECT_TRUE(one.ok) << one.Summary();
  EXPECT_EQ(one.num_agreeing, 4);
  EXPECT_NEAR(one.min_region_iou, 0.9, 1e-12);

  a.panoptic_seg[36][41] = 1;
  SetArea(a, 1);
  SetArea(a, 4);
  SegmentMatchReport r = MatchSegments(e, a);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.num_matched, 4);
  EXPECT_EQ(r.num_agreeing, 3);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("region IoU 0.8000"), std::string::npos) << r.problems[0];
}

TEST(MatchSegmentsTest, OtherCategoryDisagrees) {
  const ImageResult e = Panoptic();
  ImageResult a = Panoptic();
  a.segments_info[2].category_id = 4;
  SegmentMatchReport r = MatchSegments(e, a);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.num_agreeing, 3);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("category 4 (stuff) instead of 3 (stuff)"), std::string::npos)
      << r.problems[0];
}

// A thing segment whose detection moved (box IoU < 0.99) disagrees even with the same pixels.
TEST(MatchSegmentsTest, ThingWithAnotherDetectionDisagrees) {
  const ImageResult e = Panoptic();
  ImageResult a = Panoptic();
  a.instances.fields["pred_boxes"] =
      at::tensor({5.f, 5.f, 21.f, 25.f, 25.f, 10.f, 45.f, 35.f}).view({2, 4});
  SegmentMatchReport r = MatchSegments(e, a);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("box IoU"), std::string::npos) << r.problems[0];

  ImageResult bad_id = Panoptic();
  bad_id.segments_info[0].instance_id = 5;
  r = MatchSegments(e, bad_id);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.Summary().find("names no detection"), std::string::npos) << r.Summary();
}

TEST(MatchSegmentsTest, AreaThatIsNotTheRegionsPixelCountDisagrees) {
  const ImageResult e = Panoptic();
  ImageResult a = Panoptic();
  a.segments_info[0].area += 1;
  SegmentMatchReport r = MatchSegments(e, a);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("segments_info area"), std::string::npos) << r.problems[0];
}

TEST(MatchSegmentsTest, MissingAndExtraSegmentsCount) {
  const ImageResult e = Panoptic();
  ImageResult a = Panoptic();
  // Segment 4 becomes stuff segment 1; a new segment 5 appears where segment 2 was.
  a.panoptic_seg.masked_fill_(e.panoptic_seg == 4, 1);
  a.panoptic_seg.masked_fill_(e.panoptic_seg == 2, 5);
  a.segments_info = {{5, 7, true, e.segments_info[0].area, 0.9f, 0},
                     e.segments_info[1], e.segments_info[2]};
  SetArea(a, 1);
  SegmentMatchReport r = MatchSegments(e, a);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.num_expected, 4);
  EXPECT_EQ(r.num_actual, 3);
  EXPECT_EQ(r.num_matched, 3);  // 2 -> 5 (same pixels), 3 -> 3, 1 -> 1; 4 has no partner left
  EXPECT_EQ(r.num_agreeing, 3);
  EXPECT_NE(r.Summary().find("expected segment 4"), std::string::npos) << r.Summary();
}

TEST(MatchSegmentsTest, ShapeMismatchFails) {
  const ImageResult e = Panoptic();
  ImageResult a = Panoptic();
  a.panoptic_seg = a.panoptic_seg.slice(0, 0, 39).contiguous();
  SegmentMatchReport r = MatchSegments(e, a);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.Summary().find("another shape"), std::string::npos);
}

// CompareResults uses the segment matching for panoptic results (renumbered segments agree).
TEST(CompareResultsTest, PanopticResultsAreComparedBySegments) {
  const ImageResult e = Panoptic();
  ImageResult a = Panoptic();
  a.segments_info[3].category_id = 6;
  BatchComparison c = CompareResults("panoptic", {e}, {a});
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.Summary().find("segments expected 4"), std::string::npos) << c.Summary();
  EXPECT_EQ(c.ToJson()["images"][0]["segments"]["num_agreeing"], 3);
  c = CompareResults("panoptic", {e}, {Panoptic()});
  EXPECT_TRUE(c.ok) << c.Summary();
}

}  // namespace
}  // namespace d2x::verify
