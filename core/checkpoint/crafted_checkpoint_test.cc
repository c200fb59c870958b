// Checkpoint formats on crafted files (written in C++ here): shared-storage views, dtypes,
// `module.` prefixes, matching-heuristics flags, numpy layouts and byte orders, Caffe2 pickles,
// pycls .pyth files, placeholders for unknown classes.
#include <ATen/ATen.h>

#include <map>
#include <string>

#include "core/checkpoint/checkpoint.h"
#include "core/checkpoint/test_files.h"
#include "core/checkpoint/test_pickle_writer.h"
#include "gtest/gtest.h"

namespace d2x::checkpoint {
namespace {

using testing::PickleWriter;
using testing::RawBytes;
using testing::WriteFile;
using testing::WriteZip;
using Data = PickleWriter::Data;

std::map<std::string, at::Tensor> AsMap(const Checkpoint& ckpt) {
  return std::map<std::string, at::Tensor>(ckpt.tensors.begin(), ckpt.tensors.end());
}

Checkpoint MustLoad(const std::string& path) {
  absl::StatusOr<Checkpoint> ckpt = LoadCheckpoint(path);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status();
  return ckpt.ok() ? *std::move(ckpt) : Checkpoint{};
}

// {"model": OrderedDict(<entries>), "iteration": 5} with `_metadata` versions, as torch.save of a
// DetectionCheckpointer checkpoint writes it. `entries` writes key/value pairs.
std::string CheckpointPickle(const std::function<void(PickleWriter&)>& entries,
                             const std::map<std::string, int>& versions = {}) {
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark().Str("model");
  w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
  entries(w);
  w.SetItems();
  // BUILD state {"_metadata": OrderedDict({module: {"version": v}})}.
  w.EmptyDict().Str("_metadata").Global("collections", "OrderedDict").EmptyTuple().Reduce();
  for (const auto& [module, version] : versions) {
    w.Str(module).EmptyDict().Str("version").Int(version).SetItem().SetItem();
  }
  w.SetItem().Build();
  w.Str("iteration").Int(5).SetItems().Stop();
  return w.bytes();
}

TEST(CraftedCheckpointTest, TensorsShareStoragesAndKeepViews) {
  std::vector<float> values(12);
  for (int i = 0; i < 12; ++i) values[i] = static_cast<float>(i);
  const std::string pkl = CheckpointPickle([](PickleWriter& w) {
    w.Str("a").TorchTensor("FloatStorage", "0", 12, 0, {2, 3}, {3, 1});
    w.Str("b").TorchTensor("FloatStorage", "0", 12, 6, {3}, {1});
    w.Str("c").TorchTensor("FloatStorage", "0", 12, 0, {2, 2}, {1, 2});  // transposed view
    w.Str("d").TorchTensor("FloatStorage", "0", 12, 11, {}, {});          // 0-d
    w.Str("e").TorchTensor("FloatStorage", "0", 12, 0, {0, 5}, {5, 1});   // empty
  }, {{"", 1}, {"a", 3}});
  Checkpoint ckpt = MustLoad(WriteZip("views.pth", pkl, {{"0", RawBytes(values)}}));
  auto t = AsMap(ckpt);
  ASSERT_EQ(ckpt.tensors.size(), 5u);
  EXPECT_TRUE(at::equal(t["a"], at::arange(6, at::kFloat).reshape({2, 3})));
  EXPECT_TRUE(at::equal(t["b"], at::arange(6, 9, at::kFloat)));
  EXPECT_TRUE(at::equal(t["c"], at::tensor({0.f, 2.f, 1.f, 3.f}).reshape({2, 2})));
  EXPECT_FALSE(t["c"].is_contiguous());
  EXPECT_EQ(t["d"].dim(), 0);
  EXPECT_EQ(t["d"].item<float>(), 11.f);
  EXPECT_EQ(t["e"].numel(), 0);
  // One storage, read once, shared by the views.
  EXPECT_EQ(static_cast<float*>(t["b"].data_ptr()), static_cast<float*>(t["a"].data_ptr()) + 6);
  EXPECT_EQ(ckpt.metadata["iteration"], "5");
  ASSERT_TRUE(ckpt.module_versions.has_value());
  EXPECT_EQ(ckpt.module_versions->at("a"), 3);
  EXPECT_EQ(ckpt.module_versions->at(""), 1);
}

TEST(CraftedCheckpointTest, StorageTypes) {
  const std::string pkl = CheckpointPickle([](PickleWriter& w) {
    w.Str("l").TorchTensor("LongStorage", "0", 2, 0, {2}, {1});
    w.Str("d").TorchTensor("DoubleStorage", "1", 1, 0, {1}, {1});
    w.Str("h").TorchTensor("HalfStorage", "2", 1, 0, {1}, {1});
    w.Str("b").TorchTensor("BoolStorage", "3", 2, 0, {2}, {1});
    w.Str("u").TorchTensor("ByteStorage", "4", 1, 0, {1}, {1});
    w.Str("i").TorchTensor("IntStorage", "5", 1, 0, {1}, {1});
  });
  Checkpoint ckpt = MustLoad(WriteZip(
      "dtypes.pth", pkl,
      {{"0", RawBytes(std::vector<int64_t>{-7, 1LL << 40})},
       {"1", RawBytes(std::vector<double>{0.1})},
       {"2", std::string("\x00\x3c", 2)},  // half 1.0
       {"3", std::string("\x01\x00", 2)},
       {"4", std::string("\xfe", 1)},
       {"5", RawBytes(std::vector<int32_t>{-3})}}));
  auto t = AsMap(ckpt);
  EXPECT_EQ(t["l"].scalar_type(), at::kLong);
  EXPECT_EQ(t["l"][1].item<int64_t>(), 1LL << 40);
  EXPECT_EQ(t["d"].item<double>(), 0.1);
  EXPECT_EQ(t["h"].scalar_type(), at::kHalf);
  EXPECT_EQ(t["h"].item<float>(), 1.f);
  EXPECT_TRUE(t["b"][0].item<bool>());
  EXPECT_FALSE(t["b"][1].item<bool>());
  EXPECT_EQ(t["u"].item<uint8_t>(), 254);
  EXPECT_EQ(t["i"].item<int32_t>(), -3);
}

TEST(CraftedCheckpointTest, ModulePrefixIsStripped) {
  const std::string pkl = CheckpointPickle([](PickleWriter& w) {
    w.Str("module.backbone.w").TorchTensor("FloatStorage", "0", 1, 0, {1}, {1});
    w.Str("module.head.b").TorchTensor("FloatStorage", "0", 1, 0, {1}, {1});
  }, {{"", 1}, {"module", 1}, {"module.backbone", 2}});
  Checkpoint ckpt = MustLoad(WriteZip("ddp.pth", pkl, {{"0", RawBytes(std::vector<float>{1})}}));
  ASSERT_EQ(ckpt.tensors.size(), 2u);
  EXPECT_EQ(ckpt.tensors[0].first, "backbone.w");
  EXPECT_EQ(ckpt.tensors[1].first, "head.b");
  EXPECT_EQ(ckpt.module_versions->at("backbone"), 2);
  // A prefix on only some keys is kept (fvcore strips it only when every key has it).
  const std::string partial = CheckpointPickle([](PickleWriter& w) {
    w.Str("module.w").TorchTensor("FloatStorage", "0", 1, 0, {1}, {1});
    w.Str("b").TorchTensor("FloatStorage", "0", 1, 0, {1}, {1});
  });
  Checkpoint kept = MustLoad(WriteZip("partial.pth", partial,
                                      {{"0", RawBytes(std::vector<float>{1})}}));
  EXPECT_EQ(kept.tensors[0].first, "module.w");
}

TEST(CraftedCheckpointTest, WholeDictIsTheModelWithoutModelKey) {
  PickleWriter w;
  w.Proto(2).Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
  w.Str("w").TorchTensor("FloatStorage", "0", 2, 0, {2}, {1}).SetItems().Stop();
  Checkpoint ckpt = MustLoad(WriteZip("state_dict.pth", w.bytes(),
                                      {{"0", RawBytes(std::vector<float>{1, 2})}}));
  EXPECT_EQ(ckpt.format, "pth");
  ASSERT_EQ(ckpt.tensors.size(), 1u);
  EXPECT_FALSE(ckpt.module_versions.has_value());
}

TEST(CraftedCheckpointTest, MatchingHeuristicsFromFileOrQuery) {
  auto tensor = [](PickleWriter& w) {
    w.Str("w").TorchTensor("FloatStorage", "0", 1, 0, {1}, {1});
  };
  const std::string storage = RawBytes(std::vector<float>{1});
  const std::string plain = WriteZip("plain.pth", CheckpointPickle(tensor), {{"0", storage}});
  EXPECT_FALSE(MustLoad(plain).matching_heuristics);
  Checkpoint with_query = MustLoad(plain + "?matching_heuristics=True");
  EXPECT_TRUE(with_query.matching_heuristics);
  EXPECT_EQ(with_query.path, plain);
  absl::StatusOr<Checkpoint> bad_query = LoadCheckpoint(plain + "?foo=1");
  ASSERT_FALSE(bad_query.ok());
  EXPECT_NE(bad_query.status().message().find("foo"), std::string::npos);

  PickleWriter w;
  w.Proto(2).EmptyDict().Mark().Str("model").EmptyDict().Mark();
  tensor(w);
  w.SetItems().Str("matching_heuristics").Bool(true).SetItems().Stop();
  EXPECT_TRUE(MustLoad(WriteZip("flag.pth", w.bytes(), {{"0", storage}})).matching_heuristics);
}

TEST(CraftedCheckpointTest, NumpyArraysInDetectron2Pkl) {
  const std::vector<float> f = {1, 2, 3, 4, 5, 6};
  std::string big_endian;
  for (float v : f) {
    std::string b = RawBytes(std::vector<float>{v});
    big_endian.append(b.rbegin(), b.rend());
  }
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark().Str("model").EmptyDict().Mark();
  w.Str("latin1").NumpyArray("f4", {2, 3}, RawBytes(f), Data::kLatin1Text);
  w.Str("bytes").NumpyArray("f4", {2, 3}, RawBytes(f), Data::kBytes);
  w.Str("py2").NumpyArray("f4", {2, 3}, RawBytes(f), Data::kPy2Str);
  w.Str("fortran").NumpyArray("f4", {2, 3}, RawBytes(f), Data::kBytes, /*fortran=*/true);
  w.Str("big").NumpyArray("f4", {2, 3}, big_endian, Data::kBytes, false, '>');
  w.Str("i8").NumpyArray("i8", {2}, RawBytes(std::vector<int64_t>{-1, 3}), Data::kLatin1Text);
  w.Str("f8").NumpyArray("f8", {}, RawBytes(std::vector<double>{2.5}), Data::kBytes);
  w.Str("bool").NumpyArray("b1", {3}, std::string("\x01\x00\x01", 3), Data::kBytes, false, '|');
  w.Str("empty").NumpyArray("f4", {0, 4}, "", Data::kBytes);
  w.SetItems();
  w.Str("__author__").Str("test").Str("matching_heuristics").Bool(false).SetItems().Stop();
  Checkpoint ckpt = MustLoad(WriteFile("zoo.pkl", w.bytes()));
  EXPECT_EQ(ckpt.format, "pkl-detectron2");
  EXPECT_FALSE(ckpt.matching_heuristics);
  EXPECT_EQ(ckpt.metadata["__author__"], "test");
  auto t = AsMap(ckpt);
  const at::Tensor expected = at::arange(1, 7, at::kFloat).reshape({2, 3});
  for (const char* name : {"latin1", "bytes", "py2", "big"}) {
    EXPECT_TRUE(at::equal(t[name], expected)) << name;
    EXPECT_TRUE(t[name].is_contiguous()) << name;
  }
  // Fortran order: the same bytes in column-major order, strides as torch.from_numpy gives.
  EXPECT_TRUE(at::equal(t["fortran"], at::tensor({1.f, 3.f, 5.f, 2.f, 4.f, 6.f}).reshape({2, 3})));
  EXPECT_EQ(t["fortran"].strides(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(t["i8"].scalar_type(), at::kLong);
  EXPECT_EQ(t["i8"][0].item<int64_t>(), -1);
  EXPECT_EQ(t["f8"].dim(), 0);
  EXPECT_EQ(t["f8"].item<double>(), 2.5);
  EXPECT_EQ(t["bool"].scalar_type(), at::kBool);
  EXPECT_EQ(t["bool"].sum().item<int64_t>(), 2);
  EXPECT_EQ(t["empty"].sizes(), (std::vector<int64_t>{0, 4}));
}

TEST(CraftedCheckpointTest, Caffe2PklIsConverted) {
  const std::vector<float> cls = {0, 0, 1, 1, 2, 2};  // background, class 1, class 2
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark().Str("blobs").EmptyDict().Mark();
  w.Py2Str("conv1_w").NumpyArray("f4", {1, 1, 1, 1}, RawBytes(std::vector<float>{7}), Data::kPy2Str);
  w.Py2Str("conv1_w_momentum").NumpyArray("f4", {1}, RawBytes(std::vector<float>{0}),
                                          Data::kPy2Str);
  w.Py2Str("res_conv1_bn_s").NumpyArray("f4", {1}, RawBytes(std::vector<float>{1}), Data::kPy2Str);
  w.Py2Str("cls_score_w").NumpyArray("f4", {3, 2}, RawBytes(cls), Data::kPy2Str);
  w.Py2Str("bbox_pred_b").NumpyArray("f4", {12}, RawBytes(std::vector<float>(12, 1.f)),
                                     Data::kPy2Str);
  w.SetItems().Py2Str("cfg").Py2Str("MODEL: ...").SetItems().Stop();
  Checkpoint ckpt = MustLoad(WriteFile("detectron1.pkl", w.bytes()));
  EXPECT_EQ(ckpt.format, "pkl-caffe2");
  EXPECT_TRUE(ckpt.matching_heuristics);
  EXPECT_EQ(ckpt.metadata["__author__"], "Caffe2");
  auto t = AsMap(ckpt);
  EXPECT_EQ(t.size(), 4u);  // momentum dropped
  EXPECT_TRUE(t.count("stem.conv1.weight"));
  EXPECT_TRUE(t.count("stem.conv1.norm.weight"));
  EXPECT_EQ(t["bbox_pred.bias"].size(0), 8);
  EXPECT_TRUE(at::equal(t["cls_score.weight"],
                        at::tensor({1.f, 1.f, 2.f, 2.f, 0.f, 0.f}).reshape({3, 2})));

  // ImageNet-style C2 pickles have no "blobs": the whole dict holds the weights.
  PickleWriter imagenet;
  imagenet.Proto(2).EmptyDict().Py2Str("res2_0_branch2a_w")
      .NumpyArray("f4", {1}, RawBytes(std::vector<float>{1}), Data::kPy2Str).SetItem().Stop();
  Checkpoint r50 = MustLoad(WriteFile("R-50.pkl", imagenet.bytes()));
  ASSERT_EQ(r50.tensors.size(), 1u);
  EXPECT_EQ(r50.tensors[0].first, "res2.0.conv1.weight");
}

TEST(CraftedCheckpointTest, PythFiles) {
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark().Str("model_state").EmptyDict().Mark();
  w.Str("stem.bn.weight").TorchTensor("FloatStorage", "0", 1, 0, {1}, {1});
  w.Str("stem.bn.num_batches_tracked").TorchTensor("LongStorage", "1", 1, 0, {}, {});
  w.SetItems().Str("epoch").Int(3).SetItems().Stop();
  Checkpoint ckpt = MustLoad(WriteZip("regnet.pyth", w.bytes(),
                                      {{"0", RawBytes(std::vector<float>{1})},
                                       {"1", RawBytes(std::vector<int64_t>{9})}}));
  EXPECT_EQ(ckpt.format, "pyth");
  EXPECT_TRUE(ckpt.matching_heuristics);
  ASSERT_EQ(ckpt.tensors.size(), 1u);
  EXPECT_EQ(ckpt.tensors[0].first, "stem.bn.weight");
}

TEST(CraftedCheckpointTest, UnknownClassesOutsideTheModelAreIgnored) {
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark().Str("model").EmptyDict().Str("w")
      .TorchTensor("FloatStorage", "0", 1, 0, {1}, {1}).SetItem();
  w.Str("optimizer").Global("torch.optim.sgd", "SGD").EmptyTuple().Op(0x81).EmptyDict().Build();
  w.Str("cfg").Global("yacs.config", "CfgNode").EmptyTuple().Reduce();
  w.SetItems().Stop();
  Checkpoint ckpt = MustLoad(WriteZip("with_optimizer.pth", w.bytes(),
                                      {{"0", RawBytes(std::vector<float>{1})}}));
  EXPECT_EQ(ckpt.tensors.size(), 1u);
  EXPECT_EQ(ckpt.ignored_classes,
            (std::vector<std::string>{"torch.optim.sgd.SGD", "yacs.config.CfgNode"}));
}

}  // namespace
}  // namespace d2x::checkpoint
