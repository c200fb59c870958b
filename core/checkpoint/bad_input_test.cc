// Hostile and corrupt checkpoint files through LoadCheckpoint: each must give a one-line error
// naming the file and what was wrong — never a crash, never a side effect.
#include <unistd.h>

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/checkpoint/checkpoint.h"
#include "core/checkpoint/test_files.h"
#include "core/checkpoint/test_pickle_writer.h"
#include "core/testing/fixtures.h"
#include "gtest/gtest.h"

namespace d2x::checkpoint {
namespace {

using testing::PickleWriter;
using testing::RawBytes;
using testing::ReadFileBytes;
using testing::TempPath;
using testing::WriteFile;
using testing::WriteZip;

// Loads `path` and expects a one-line error that names the file and contains `what`.
void ExpectError(const std::string& path, const std::string& what,
                 absl::StatusCode code = absl::StatusCode::kOk) {
  absl::StatusOr<Checkpoint> ckpt = LoadCheckpoint(path);
  ASSERT_FALSE(ckpt.ok()) << path << " loaded";
  const std::string msg(ckpt.status().message());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << "expected '" << what << "' in: " << msg;
  if (code != absl::StatusCode::kOk) {
    EXPECT_EQ(ckpt.status().code(), code) << msg;
  }
}

std::string FixturePth() {
  absl::StatusOr<std::string> path = d2x::testing::FixturePath("mask_rcnn", "model_final.pth");
  EXPECT_TRUE(path.ok()) << path.status();
  return path.ok() ? *path : "";
}

TEST(BadInputTest, TruncatedPth) {
  const std::string full = ReadFileBytes(FixturePth());
  ASSERT_GT(full.size(), 100000u);
  for (size_t n : {size_t{0}, size_t{3}, size_t{30}, size_t{1000}, size_t{40000}, full.size() / 2,
                   full.size() - 100, full.size() - 1}) {
    SCOPED_TRACE(n);
    const std::string path = WriteFile(absl::StrCat("truncated_", n, ".pth"), full.substr(0, n));
    absl::StatusOr<Checkpoint> ckpt = LoadCheckpoint(path);
    ASSERT_FALSE(ckpt.ok());
    const std::string msg(ckpt.status().message());
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
  }
}

TEST(BadInputTest, TruncatedPkl) {
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark().Str("model").EmptyDict().Str("w")
      .NumpyArray("f4", {4}, RawBytes(std::vector<float>{1, 2, 3, 4})).SetItem()
      .Str("__author__").Str("x").SetItems().Stop();
  const std::string full = w.bytes();
  for (size_t n = 1; n < full.size(); ++n) {
    ExpectError(WriteFile("truncated.pkl", full.substr(0, n)), "pickle offset");
  }
}

TEST(BadInputTest, FlippedBytesNeverCrash) {
  const std::string full = ReadFileBytes(FixturePth());
  std::mt19937_64 rng(20240601);
  int errors = 0;
  constexpr int kTrials = 24;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string bytes = full;
    std::vector<size_t> positions;
    for (int k = 0; k < 3; ++k) {
      // Half of the flips in the pickle (the first ~50 KB), half anywhere.
      const size_t pos = k == 0 ? rng() % 50000 : rng() % bytes.size();
      bytes[pos] = static_cast<char>(bytes[pos] ^ (1 + rng() % 255));
      positions.push_back(pos);
    }
    const std::string path = WriteFile("flipped.pth", bytes);
    absl::StatusOr<Checkpoint> ckpt = LoadCheckpoint(path);
    if (!ckpt.ok()) {
      ++errors;
      const std::string msg(ckpt.status().message());
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
    }
  }
  // Every record is CRC-checked, so flips anywhere but in unchecked zip header fields are detected.
  EXPECT_GE(errors, kTrials - 4);
}

TEST(BadInputTest, WrongMagic) {
  ExpectError(WriteFile("garbage.pth", "GARBAGE GARBAGE GARBAGE"), "not a checkpoint");
  ExpectError(WriteFile("empty.pth", ""), "not a checkpoint");
  ExpectError(WriteFile("png.pkl", "\x89PNG\r\n\x1a\n...."), "not a checkpoint");
  // A zip archive that is not a torch.save file.
  ExpectError(WriteFile("bad.zip", std::string("PK\x03\x04", 4) + std::string(100, 'x')),
              "corrupt zip archive");
}

TEST(BadInputTest, LegacyTorchSave) {
  const std::string legacy("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  ExpectError(WriteFile("legacy.pth", legacy),
              "legacy (non-zip) torch.save format not supported; re-save with torch>=1.6",
              absl::StatusCode::kUnimplemented);
}

TEST(BadInputTest, PickleCallingOsSystemIsRefusedAndInert) {
  const std::string target = TempPath(absl::StrCat("pwned_", getpid()));
  const std::string cmd = "touch " + target;
  std::vector<std::string> attacks = {
      "cos\nsystem\n(S'" + cmd + "'\ntR.",
      PickleWriter().Proto(2).Global("os", "system").Str(cmd).TupleN(1).Reduce().Stop().bytes(),
      PickleWriter().Proto(4).Str("os").Str("system").Op(0x93).Str(cmd).TupleN(1).Reduce().Stop()
          .bytes(),
      PickleWriter().Proto(4).Str("posix").Op(0x94).Str("system").Op(0x93).Str(cmd).TupleN(1)
          .Reduce().Stop().bytes(),
      // Inside a model-zoo style checkpoint, next to a valid model.
      PickleWriter().Proto(2).EmptyDict().Mark().Str("model").EmptyDict().Str("__author__")
          .Global("os", "system").Str(cmd).TupleN(1).Reduce().SetItems().Stop().bytes(),
  };
  int i = 0;
  for (const std::string& attack : attacks) {
    ExpectError(WriteFile(absl::StrCat("attack", i++, ".pkl"), attack), "refusing global",
                absl::StatusCode::kPermissionDenied);
  }
  // The same inside a .pth zip.
  ExpectError(WriteZip("attack.pth", attacks[1], {}), "refusing global 'os.system'",
              absl::StatusCode::kPermissionDenied);
  EXPECT_NE(access(target.c_str(), F_OK), 0) << "the pickle ran a command";
}

TEST(BadInputTest, HugeDeclaredSizes) {
  std::string huge = PickleWriter().Proto(4).Op(0x8d).bytes();  // BINUNICODE8, 2^60 bytes
  for (int k = 0; k < 8; ++k) huge.push_back(k == 7 ? '\x10' : '\0');
  ExpectError(WriteFile("huge.pkl", huge + "abc."), "declared length 1152921504606846976");
  // A numpy array whose shape claims far more data than it has.
  PickleWriter w;
  w.Proto(2).EmptyDict().Str("w").NumpyArray("f4", {1LL << 40, 1LL << 30}, "abcd").SetItem().Stop();
  ExpectError(WriteFile("huge_shape.pkl", w.bytes()), "too large");
  // A tensor whose storage claims 2^60 elements.
  PickleWriter t;
  t.Proto(2).EmptyDict().Str("w").TorchTensor("FloatStorage", "0", 1LL << 60, 0, {4}, {1})
      .SetItem().Stop();
  ExpectError(WriteZip("huge_storage.pth", t.bytes(), {{"0", std::string(16, '\0')}}),
              "declares 1152921504606846976");
}

TEST(BadInputTest, RecursionBombs) {
  const std::string lists = PickleWriter().Proto(2).bytes() + std::string(100000, ']') +
                            std::string(99999, 'a') + ".";
  ExpectError(WriteFile("lists.pkl", lists), "nest deeper than 1000");
  const std::string marks = PickleWriter().Proto(2).bytes() + std::string(100000, '(') + "N.";
  ExpectError(WriteFile("marks.pkl", marks), "nested MARKs");
}

TEST(BadInputTest, MissingStorageRecord) {
  PickleWriter w;
  w.Proto(2).EmptyDict().Str("model").EmptyDict().Str("w")
      .TorchTensor("FloatStorage", "1", 4, 0, {4}, {1}).SetItem().SetItem().Stop();
  const std::string path = WriteZip("missing_record.pth", w.bytes(),
                                    {{"0", RawBytes(std::vector<float>{1, 2, 3, 4})}});
  ExpectError(path, "record 'data/1' is missing");
}

TEST(BadInputTest, StorageSmallerThanTheTensor) {
  auto zip = [](const std::string& name, int64_t numel, int64_t offset,
                const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
    PickleWriter w;
    w.Proto(2).EmptyDict().Str("model").EmptyDict().Str("w")
        .TorchTensor("FloatStorage", "0", numel, offset, sizes, strides).SetItem().SetItem()
        .Stop();
    return WriteZip(name, w.bytes(), {{"0", RawBytes(std::vector<float>{1, 2})}});
  };
  // The pickle declares 100 elements; the record holds 2.
  ExpectError(zip("small_record.pth", 100, 0, {100}, {1}), "has 8 bytes but the pickle declares 100");
  // Size / stride / offset reaching past the declared storage.
  ExpectError(zip("stride.pth", 2, 0, {2, 2}, {2, 1}), "reaches past the end of its storage");
  ExpectError(zip("offset.pth", 2, 2, {1}, {1}), "reaches past the end");
  ExpectError(zip("size.pth", 2, 0, {3}, {1}), "reaches past the end");
}

TEST(BadInputTest, OneStorageWithTwoDtypes) {
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark();
  w.Str("a").TorchTensor("FloatStorage", "0", 2, 0, {2}, {1});
  w.Str("b").TorchTensor("IntStorage", "0", 2, 0, {2}, {1});
  w.SetItems().Stop();
  ExpectError(WriteZip("two_dtypes.pth", w.bytes(), {{"0", RawBytes(std::vector<float>{1, 2})}}),
              "used both as float32 and as int32");
}

TEST(BadInputTest, NotAStateDict) {
  ExpectError(WriteFile("list.pkl", PickleWriter().Proto(2).EmptyList().Stop().bytes()),
              "top-level object is [], expected a dict");
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark().Str("model").EmptyDict().Str("w").Int(3).SetItem()
      .Str("__author__").Str("x").SetItems().Stop();
  ExpectError(WriteFile("int_weight.pkl", w.bytes()), "'w' is 3, not a tensor or numpy array");
  PickleWriter opaque;
  opaque.Proto(2).EmptyDict().Mark().Str("model").Global("detectron2.modeling", "GeneralizedRCNN")
      .EmptyTuple().Reduce().Str("__author__").Str("x").SetItems().Stop();
  ExpectError(WriteFile("module_pickle.pkl", opaque.bytes()),
              "detectron2.modeling.GeneralizedRCNN object (not loaded)");
}

TEST(BadInputTest, ZipWithoutDataPkl) {
  const std::string path = TempPath("no_data_pkl.pth");
  {
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("something", "x", 1);
    writer.writeEndOfFile();
  }
  ExpectError(path, "no data.pkl record");
}

}  // namespace
}  // namespace d2x::checkpoint
