// The Caffe2 format end to end (issue #8): fixture models exported through the export driver
// with the "caffe2" rewrite flavor (traced at 256x320, verified by the driver at 256x320, at
// 200x296 and as a batch of 2), then reloaded from model.pb / model_init.pb (load_protobuf) and
// run through the Caffe2 runner: equal to the eager model and to detectron2's fixtures within the
// fixture tolerances (../shared/fixtures/README.md), on batches of 3 too. The artifact's files:
// the pbtxt parses and equals model.pb, the SVG is well-formed XML naming every op, corrupt nets
// give clear errors. Keypoint R-CNN's heatmap upsampling is exact (PadImage + ConvTranspose).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/export/artifact.h"
#include "core/export/export_pipeline.h"
#include "core/plugin/registry.h"
#include "core/verify/compare.h"
#include "plugins/arch/panoptic_fpn/caffe2_rewriter.h"
#include "plugins/arch/panoptic_fpn/panoptic_fpn.h"
#include "plugins/arch/rcnn/caffe2_rewriter.h"
#include "plugins/arch/rcnn/generalized_rcnn.h"
#include "plugins/arch/retinanet/caffe2_rewriter.h"
#include "plugins/arch/retinanet/retinanet.h"
#include "plugins/format/caffe2/caffe2_format.h"
#include "plugins/format/caffe2/net_io.h"
#include "plugins/format/caffe2/onnx_caffe2.h"
#include "tests/export/export_test_util.h"
#include "tests/parity/parity_util.h"

namespace d2x::caffe2_format {
namespace {
namespace fs = std::filesystem;
using export_test::FixtureExportInputs;
using export_test::TempDir;
using parity::FixtureImageInput;

const plugin::Registry& TestRegistry() {
  static const plugin::Registry* registry = [] {
    auto* r = new plugin::Registry();
    plugin::Registrar staged;
    staged.AddModelBuilder("GeneralizedRCNN", &rcnn::BuildGeneralizedRcnn);
    staged.AddRewriter("GeneralizedRCNN",
                       [] { return std::make_unique<rcnn::RcnnRewriterWithCaffe2>(); });
    staged.AddModelBuilder("PanopticFPN", &panoptic_fpn::BuildPanopticFpn);
    staged.AddRewriter("PanopticFPN", [] {
      return std::make_unique<panoptic_fpn::PanopticFpnRewriterWithCaffe2>();
    });
    staged.AddModelBuilder("RetinaNet", &retinanet::BuildRetinaNet);
    staged.AddRewriter("RetinaNet",
                       [] { return std::make_unique<retinanet::RetinaNetRewriterWithCaffe2>(); });
    staged.AddExporter(kFormatName, [] { return std::make_unique<Caffe2Exporter>(); });
    staged.AddRunner(kFormatName, [] { return std::make_unique<Caffe2Runner>(); });
    staged.AddExporter(kOnnxFormatName, [] { return std::make_unique<OnnxCaffe2Exporter>(); });
    staged.AddRunner(kOnnxFormatName, [] { return std::make_unique<OnnxCaffe2Runner>(); });
    absl::Status status = r->Commit(staged, {"caffe2_export_test", "0", "<linked in>"});
    if (!status.ok()) {
      ADD_FAILURE() << status;
      std::abort();
    }
    return r;
  }();
  return *registry;
}

exporting::ExportSession& Session(const std::string& arch) {
  static auto* sessions = new std::map<std::string, std::unique_ptr<exporting::ExportSession>>();
  auto it = sessions->find(arch);
  if (it == sessions->end()) {
    absl::StatusOr<exporting::ExportInputs> inputs = FixtureExportInputs(arch);
    if (!inputs.ok()) {
      ADD_FAILURE() << inputs.status();
      std::abort();
    }
    auto session = exporting::ExportSession::Create(TestRegistry(), *inputs);
    if (!session.ok()) {
      ADD_FAILURE() << arch << ": " << session.status();
      std::abort();
    }
    it = sessions->emplace(arch, *std::move(session)).first;
  }
  return *it->second;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Well-formedness of an XML document: every element closed in order, one root; comments,
// processing instructions, CDATA and DOCTYPE skipped. Returns "" or the first problem.
std::string XmlProblem(const std::string& xml) {
  std::vector<std::string> open;
  int roots = 0;
  size_t i = 0;
  while ((i = xml.find('<', i)) != std::string::npos) {
    auto skip = [&](const char* start, const char* end) {
      if (xml.compare(i, std::strlen(start), start) != 0) return false;
      const size_t e = xml.find(end, i);
      i = e == std::string::npos ? xml.size() : e + std::strlen(end);
      return true;
    };
    if (skip("<!--", "-->") || skip("<?", "?>") || skip("<![CDATA[", "]]>") || skip("<!", ">")) {
      continue;
    }
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    const std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      const std::string name = tag.substr(1, tag.find_first_of(" \t\n") - 1);
      if (open.empty() || open.back() != name) return absl::StrCat("unexpected </", name, ">");
      open.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (open.empty()) ++roots;
    if (tag.back() != '/') open.push_back(name);
  }
  if (!open.empty()) return absl::StrCat("unclosed <", open.back(), ">");
  if (roots != 1) return absl::StrCat(roots, " root elements");
  return "";
}

class Caffe2ExportTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string arch() const { return GetParam(); }
};

TEST_P(Caffe2ExportTest, ExportVerifyReloadAndRun) {
  exporting::ExportSession& session = Session(arch());
  const std::string dir = TempDir("caffe2_" + arch()) + "/artifact";
  exporting::ExportTarget target;
  target.format = kFormatName;
  target.output_dir = dir;
  absl::StatusOr<exporting::ExportOutcome> outcome = export_test::ExportAndPrint(session, target);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(outcome->status.ok()) << outcome->status;
  EXPECT_TRUE(outcome->exported && outcome->verified && outcome->installed);
  // Sample size, another size (200x296, not a multiple of 32) and a batch of 2.
  ASSERT_EQ(outcome->checks.size(), 3u);
  for (const verify::BatchComparison& c : outcome->checks) EXPECT_TRUE(c.ok) << c.Summary();
  for (const char* file : {"model.pb", "model_init.pb", "model.pbtxt", "model.svg",
                           "manifest.json", "report.json", "config.yaml"}) {
    EXPECT_TRUE(fs::is_regular_file(fs::path(dir) / file)) << file;
  }

  // The files: model.pbtxt is the text form of model.pb; the SVG names every op.
  absl::StatusOr<Caffe2Nets> nets = LoadProtobuf(dir);
  ASSERT_TRUE(nets.ok()) << nets.status();
  absl::StatusOr<d2x::caffe2::NetDef> text = ParseNetDefText(ReadFile(fs::path(dir) / "model.pbtxt"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->SerializeAsString(), nets->predict_net.SerializeAsString());
  EXPECT_EQ(nets->predict_net.external_input(0), "data");
  EXPECT_EQ(nets->predict_net.external_input(1), "im_info");
  const std::string svg = ReadFile(fs::path(dir) / "model.svg");
  EXPECT_EQ(XmlProblem(svg), "");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  for (int i = 0; i < nets->predict_net.op_size(); ++i) {
    const std::string label = absl::StrCat(nets->predict_net.op(i).type(), " #", i);
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
  std::map<std::string, int> types;
  for (const auto& op : nets->predict_net.op()) ++types[op.type()];
  if (arch() != "retinanet") {
    for (const char* type : {"GenerateProposals", "CollectRpnProposals", "DistributeFpnProposals",
                             "RoIAlign", "BatchPermutation", "BBoxTransform", "BoxWithNMSLimit"}) {
      EXPECT_GT(types[type], 0) << type;
    }
    EXPECT_EQ(nets->predict_net.external_output(0), "bbox_nms");
    EXPECT_EQ(nets->predict_net.external_output(1), "score_nms");
    EXPECT_EQ(nets->predict_net.external_output(2), "class_nms");
    if (arch() == "mask_rcnn") {
      EXPECT_EQ(nets->predict_net.external_output(3), "mask_fcn_probs");
    }
    if (arch() == "panoptic_fpn") {
      EXPECT_EQ(nets->predict_net.external_output(5), "sem_seg");
    }
    if (arch() == "keypoint_rcnn") {
      EXPECT_EQ(nets->predict_net.external_output(3), "kps_score");
      EXPECT_GT(types["PadImage"], 0);  // the heatmaps' exact bilinear upsampling
    }
  } else {
    EXPECT_EQ(nets->predict_net.external_output(0), "box_cls_0");
  }

  // Reload (Caffe2Runner: load_protobuf + the d2x executor) and compare with detectron2.
  absl::StatusOr<std::unique_ptr<exporting::LoadedArtifact>> artifact =
      exporting::LoadedArtifact::Load(TestRegistry(), dir);
  ASSERT_TRUE(artifact.ok()) << artifact.status();
  EXPECT_EQ((*artifact)->manifest().flavor, "caffe2");
  for (const std::string& key : parity::ImageKeys()) {
    absl::StatusOr<std::vector<ImageResult>> results =
        (*artifact)->Predict({FixtureImageInput(arch(), key)});
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_EQ(results->size(), 1u);
    verify::MatchReport report = verify::MatchDetections(
        parity::FixtureDetections(arch(), key), verify::FromInstances((*results)[0].instances));
    std::cout << arch() << " caffe2 " << key << " vs detectron2: " << report.Summary() << "\n";
    EXPECT_TRUE(report.ok) << report.Summary();
    if (arch() == "panoptic_fpn") {
      // detectron2's panoptic map, pixel by pixel (same segment ids).
      const at::Tensor expected = parity::Fixture(arch(), key + ".panoptic_seg");
      const at::Tensor& actual = (*results)[0].panoptic_seg;
      ASSERT_EQ(actual.sizes(), expected.sizes());
      const double agreement =
          actual.to(at::kLong).eq(expected.to(at::kLong)).to(at::kDouble).mean().item<double>();
      std::cout << "panoptic_fpn caffe2 " << key << " panoptic pixel agreement " << agreement
                << "\n";
      EXPECT_GE(agreement, 0.999);
    }
  }

  // A batch of 3 (detectron2's Caffe2Model takes one image), one with a requested output size.
  const std::vector<ImageInput> batch = export_test::MixedBatchOfThree(arch());
  absl::StatusOr<std::vector<ImageResult>> exported = (*artifact)->Predict(batch);
  ASSERT_TRUE(exported.ok()) << exported.status();
  absl::StatusOr<std::vector<ImageResult>> eager = session.model().model->Inference(batch);
  ASSERT_TRUE(eager.ok()) << eager.status();
  verify::BatchComparison c = verify::CompareResults("batch of 3", *eager, *exported);
  std::cout << c.Summary() << "\n";
  EXPECT_TRUE(c.ok) << c.Summary();
  EXPECT_EQ((*exported)[2].instances.image_height, 300);
  EXPECT_EQ((*exported)[2].instances.image_width, 444);

  // A constant image (no detections) alone and in a batch.
  ImageInput blank;
  blank.image = at::full({3, 64, 96}, 114.0f);
  for (const auto& [name, edge] : std::vector<std::pair<std::string, std::vector<ImageInput>>>{
           {"blank 64x96", {blank}}, {"[blank, small]", {blank, batch[0]}}}) {
    absl::StatusOr<std::vector<ImageResult>> x = (*artifact)->Predict(edge);
    ASSERT_TRUE(x.ok()) << name << ": " << x.status();
    absl::StatusOr<std::vector<ImageResult>> e = session.model().model->Inference(edge);
    ASSERT_TRUE(e.ok()) << name << ": " << e.status();
    verify::BatchComparison edge_check = verify::CompareResults(name, *e, *x);
    EXPECT_TRUE(edge_check.ok) << edge_check.Summary();
  }

  // Corrupt nets: clear errors naming the file.
  const std::string bad = TempDir("caffe2_bad_" + arch());
  for (const char* file : {"model.pb", "model_init.pb"}) {
    fs::copy(dir, bad, fs::copy_options::overwrite_existing | fs::copy_options::recursive);
    {
      std::ofstream out(fs::path(bad) / file, std::ios::binary | std::ios::trunc);
      out << "\x0a\xff\xff\xff\x0fgarbage";
    }
    auto broken = exporting::LoadedArtifact::Load(TestRegistry(), bad);
    ASSERT_FALSE(broken.ok()) << file;
    EXPECT_NE(std::string(broken.status().message()).find(file), std::string::npos)
        << broken.status();
  }
}

INSTANTIATE_TEST_SUITE_P(All, Caffe2ExportTest,
                         ::testing::Values("faster_rcnn", "mask_rcnn", "keypoint_rcnn",
                                           "retinanet", "panoptic_fpn"));

// `onnx-caffe2`: the same nets as ONNX with the Caffe2 custom domain, verified the same way and
// reloaded against detectron2's fixtures.
TEST_P(Caffe2ExportTest, OnnxCaffe2ExportVerifyAndReload) {
  exporting::ExportSession& session = Session(arch());
  const std::string dir = TempDir("onnx_caffe2_" + arch()) + "/artifact";
  exporting::ExportTarget target;
  target.format = kOnnxFormatName;
  target.output_dir = dir;
  absl::StatusOr<exporting::ExportOutcome> outcome = export_test::ExportAndPrint(session, target);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(outcome->status.ok()) << outcome->status;
  ASSERT_EQ(outcome->checks.size(), 3u);
  for (const verify::BatchComparison& c : outcome->checks) EXPECT_TRUE(c.ok) << c.Summary();
  onnx::ModelProto model;
  {
    std::ifstream in(fs::path(dir) / kOnnxModelFile, std::ios::binary);
    ASSERT_TRUE(model.ParseFromIstream(&in));
  }
  std::map<std::string, int> standard, custom;
  for (const onnx::NodeProto& node : model.graph().node()) {
    ++(node.domain() == kCaffe2OnnxDomain ? custom : standard)[node.op_type()];
  }
  EXPECT_GT(standard["Conv"], 0);
  EXPECT_EQ(custom["Conv"], 0);
  if (arch() != "retinanet") {
    for (const char* type : {"GenerateProposals", "CollectRpnProposals", "DistributeFpnProposals",
                             "RoIAlign", "BatchPermutation", "BBoxTransform", "BoxWithNMSLimit"}) {
      EXPECT_GT(custom[type], 0) << type;
    }
  }
  // The nets round-trip: the same ops as the caffe2 format's.
  absl::StatusOr<Caffe2Nets> nets = OnnxToNets(model);
  ASSERT_TRUE(nets.ok()) << nets.status();
  EXPECT_EQ(nets->predict_net.op_size(), model.graph().node_size());
  absl::StatusOr<std::unique_ptr<exporting::LoadedArtifact>> artifact =
      exporting::LoadedArtifact::Load(TestRegistry(), dir);
  ASSERT_TRUE(artifact.ok()) << artifact.status();
  for (const std::string& key : parity::ImageKeys()) {
    absl::StatusOr<std::vector<ImageResult>> results =
        (*artifact)->Predict({FixtureImageInput(arch(), key)});
    ASSERT_TRUE(results.ok()) << results.status();
    verify::MatchReport report = verify::MatchDetections(
        parity::FixtureDetections(arch(), key), verify::FromInstances((*results)[0].instances));
    std::cout << arch() << " onnx-caffe2 " << key << " vs detectron2: " << report.Summary()
              << "\n";
    EXPECT_TRUE(report.ok) << report.Summary();
  }
  // A corrupt model.onnx: a clear error naming the file.
  const std::string bad = TempDir("onnx_caffe2_bad_" + arch());
  fs::copy(dir, bad, fs::copy_options::overwrite_existing | fs::copy_options::recursive);
  {
    std::ofstream out(fs::path(bad) / kOnnxModelFile, std::ios::binary | std::ios::trunc);
    out << "\x0a\xff\xff\xff\x0fgarbage";
  }
  auto broken = exporting::LoadedArtifact::Load(TestRegistry(), bad);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(std::string(broken.status().message()).find(kOnnxModelFile), std::string::npos)
      << broken.status();
}

// What GenerateProposals cannot express is refused with an error naming the config key, and
// nothing is written.
TEST(Caffe2ExportErrorsTest, RpnWeightsOtherThanOneAreRefusedClearly) {
  absl::StatusOr<exporting::ExportInputs> inputs = FixtureExportInputs("faster_rcnn");
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  inputs->model.opts = {"MODEL.RPN.BBOX_REG_WEIGHTS", "(2.0, 2.0, 1.0, 1.0)"};
  auto session = exporting::ExportSession::Create(TestRegistry(), *inputs);
  ASSERT_TRUE(session.ok()) << session.status();
  exporting::ExportTarget target;
  target.format = kFormatName;
  target.output_dir = TempDir("caffe2_rpn_weights") + "/artifact";
  absl::StatusOr<exporting::ExportOutcome> outcome = (*session)->Export(target);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_FALSE(outcome->status.ok());
  EXPECT_NE(std::string(outcome->status.message()).find("MODEL.RPN.BBOX_REG_WEIGHTS"),
            std::string::npos)
      << outcome->status;
  EXPECT_FALSE(fs::exists(target.output_dir));
}

}  // namespace
}  // namespace d2x::caffe2_format
