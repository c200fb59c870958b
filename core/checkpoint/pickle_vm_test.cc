// Unit tests of the torch-free pickle VM: every protocol CPython writes, the text opcodes, the
// allow-list (code-execution globals refused, unknown classes inert) and hostile input (truncation,
// bit flips, huge declared sizes, recursion bombs, memo abuse): always an error, never a crash.
#include "core/checkpoint/pickle_vm.h"

#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/checkpoint/pickle_text.h"
#include "core/checkpoint/test_pickle_writer.h"
#include "gtest/gtest.h"

namespace d2x::checkpoint::pickle {
namespace {

using testing::PickleWriter;

// kSampleObject = {"a": [1, -2, 3.5, None, True, False, 300, 70000, -70000], "t": (1, 2),
//   "t4": (1, 2, 3, 4), "s": "h\u00e9llo \u20ac", "b": b"\x00\xff", "big": 2**70, "neg": -2**40,
//   "set": {7}, "fs": frozenset([8]), "od": collections.OrderedDict(x=1), "e": ()}
// pickle.dumps(kSampleObject, protocol=p) for p = 0..5 (CPython 3.11), see kSampleObject.
const char* const kSamplePickles[] = {
    // protocol 0
    "\x28\x64\x70\x30\x0a\x56\x61\x0a\x70\x31\x0a\x28\x6c\x70\x32\x0a\x49\x31\x0a\x61\x49\x2d\x32\x0a"
    "\x61\x46\x33\x2e\x35\x0a\x61\x4e\x61\x49\x30\x31\x0a\x61\x49\x30\x30\x0a\x61\x49\x33\x30\x30\x0a"
    "\x61\x49\x37\x30\x30\x30\x30\x0a\x61\x49\x2d\x37\x30\x30\x30\x30\x0a\x61\x73\x56\x74\x0a\x70\x33"
    "\x0a\x28\x49\x31\x0a\x49\x32\x0a\x74\x70\x34\x0a\x73\x56\x74\x34\x0a\x70\x35\x0a\x28\x49\x31\x0a"
    "\x49\x32\x0a\x49\x33\x0a\x49\x34\x0a\x74\x70\x36\x0a\x73\x56\x73\x0a\x70\x37\x0a\x56\x68\xe9\x6c"
    "\x6c\x6f\x20\x5c\x75\x32\x30\x61\x63\x0a\x70\x38\x0a\x73\x56\x62\x0a\x70\x39\x0a\x63\x5f\x63\x6f"
    "\x64\x65\x63\x73\x0a\x65\x6e\x63\x6f\x64\x65\x0a\x70\x31\x30\x0a\x28\x56\x5c\x75\x30\x30\x30\x30"
    "\xff\x0a\x70\x31\x31\x0a\x56\x6c\x61\x74\x69\x6e\x31\x0a\x70\x31\x32\x0a\x74\x70\x31\x33\x0a\x52"
    "\x70\x31\x34\x0a\x73\x56\x62\x69\x67\x0a\x70\x31\x35\x0a\x4c\x31\x31\x38\x30\x35\x39\x31\x36\x32"
    "\x30\x37\x31\x37\x34\x31\x31\x33\x30\x33\x34\x32\x34\x4c\x0a\x73\x56\x6e\x65\x67\x0a\x70\x31\x36"
    "\x0a\x4c\x2d\x31\x30\x39\x39\x35\x31\x31\x36\x32\x37\x37\x37\x36\x4c\x0a\x73\x56\x73\x65\x74\x0a"
    "\x70\x31\x37\x0a\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x73\x65\x74\x0a\x70\x31\x38"
    "\x0a\x28\x28\x6c\x70\x31\x39\x0a\x49\x37\x0a\x61\x74\x70\x32\x30\x0a\x52\x70\x32\x31\x0a\x73\x56"
    "\x66\x73\x0a\x70\x32\x32\x0a\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x66\x72\x6f\x7a"
    "\x65\x6e\x73\x65\x74\x0a\x70\x32\x33\x0a\x28\x28\x6c\x70\x32\x34\x0a\x49\x38\x0a\x61\x74\x70\x32"
    "\x35\x0a\x52\x70\x32\x36\x0a\x73\x56\x6f\x64\x0a\x70\x32\x37\x0a\x63\x63\x6f\x6c\x6c\x65\x63\x74"
    "\x69\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x0a\x70\x32\x38\x0a\x28\x74\x52"
    "\x70\x32\x39\x0a\x56\x78\x0a\x70\x33\x30\x0a\x49\x31\x0a\x73\x73\x56\x65\x0a\x70\x33\x31\x0a\x28"
    "\x74\x73\x2e",
    // protocol 1
    "\x7d\x71\x00\x28\x58\x01\x00\x00\x00\x61\x71\x01\x5d\x71\x02\x28\x4b\x01\x4a\xfe\xff\xff\xff\x47"
    "\x40\x0c\x00\x00\x00\x00\x00\x00\x4e\x49\x30\x31\x0a\x49\x30\x30\x0a\x4d\x2c\x01\x4a\x70\x11\x01"
    "\x00\x4a\x90\xee\xfe\xff\x65\x58\x01\x00\x00\x00\x74\x71\x03\x28\x4b\x01\x4b\x02\x74\x71\x04\x58"
    "\x02\x00\x00\x00\x74\x34\x71\x05\x28\x4b\x01\x4b\x02\x4b\x03\x4b\x04\x74\x71\x06\x58\x01\x00\x00"
    "\x00\x73\x71\x07\x58\x0a\x00\x00\x00\x68\xc3\xa9\x6c\x6c\x6f\x20\xe2\x82\xac\x71\x08\x58\x01\x00"
    "\x00\x00\x62\x71\x09\x63\x5f\x63\x6f\x64\x65\x63\x73\x0a\x65\x6e\x63\x6f\x64\x65\x0a\x71\x0a\x28"
    "\x58\x03\x00\x00\x00\x00\xc3\xbf\x71\x0b\x58\x06\x00\x00\x00\x6c\x61\x74\x69\x6e\x31\x71\x0c\x74"
    "\x71\x0d\x52\x71\x0e\x58\x03\x00\x00\x00\x62\x69\x67\x71\x0f\x4c\x31\x31\x38\x30\x35\x39\x31\x36"
    "\x32\x30\x37\x31\x37\x34\x31\x31\x33\x30\x33\x34\x32\x34\x4c\x0a\x58\x03\x00\x00\x00\x6e\x65\x67"
    "\x71\x10\x4c\x2d\x31\x30\x39\x39\x35\x31\x31\x36\x32\x37\x37\x37\x36\x4c\x0a\x58\x03\x00\x00\x00"
    "\x73\x65\x74\x71\x11\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x73\x65\x74\x0a\x71\x12"
    "\x28\x5d\x71\x13\x4b\x07\x61\x74\x71\x14\x52\x71\x15\x58\x02\x00\x00\x00\x66\x73\x71\x16\x63\x5f"
    "\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x66\x72\x6f\x7a\x65\x6e\x73\x65\x74\x0a\x71\x17\x28"
    "\x5d\x71\x18\x4b\x08\x61\x74\x71\x19\x52\x71\x1a\x58\x02\x00\x00\x00\x6f\x64\x71\x1b\x63\x63\x6f"
    "\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x0a\x71\x1c"
    "\x29\x52\x71\x1d\x58\x01\x00\x00\x00\x78\x71\x1e\x4b\x01\x73\x58\x01\x00\x00\x00\x65\x71\x1f\x29"
    "\x75\x2e",
    // protocol 2
    "\x80\x02\x7d\x71\x00\x28\x58\x01\x00\x00\x00\x61\x71\x01\x5d\x71\x02\x28\x4b\x01\x4a\xfe\xff\xff"
    "\xff\x47\x40\x0c\x00\x00\x00\x00\x00\x00\x4e\x88\x89\x4d\x2c\x01\x4a\x70\x11\x01\x00\x4a\x90\xee"
    "\xfe\xff\x65\x58\x01\x00\x00\x00\x74\x71\x03\x4b\x01\x4b\x02\x86\x71\x04\x58\x02\x00\x00\x00\x74"
    "\x34\x71\x05\x28\x4b\x01\x4b\x02\x4b\x03\x4b\x04\x74\x71\x06\x58\x01\x00\x00\x00\x73\x71\x07\x58"
    "\x0a\x00\x00\x00\x68\xc3\xa9\x6c\x6c\x6f\x20\xe2\x82\xac\x71\x08\x58\x01\x00\x00\x00\x62\x71\x09"
    "\x63\x5f\x63\x6f\x64\x65\x63\x73\x0a\x65\x6e\x63\x6f\x64\x65\x0a\x71\x0a\x58\x03\x00\x00\x00\x00"
    "\xc3\xbf\x71\x0b\x58\x06\x00\x00\x00\x6c\x61\x74\x69\x6e\x31\x71\x0c\x86\x71\x0d\x52\x71\x0e\x58"
    "\x03\x00\x00\x00\x62\x69\x67\x71\x0f\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x40\x58\x03\x00\x00"
    "\x00\x6e\x65\x67\x71\x10\x8a\x06\x00\x00\x00\x00\x00\xff\x58\x03\x00\x00\x00\x73\x65\x74\x71\x11"
    "\x63\x5f\x5f\x62\x75\x69\x6c\x74\x69\x6e\x5f\x5f\x0a\x73\x65\x74\x0a\x71\x12\x5d\x71\x13\x4b\x07"
    "\x61\x85\x71\x14\x52\x71\x15\x58\x02\x00\x00\x00\x66\x73\x71\x16\x63\x5f\x5f\x62\x75\x69\x6c\x74"
    "\x69\x6e\x5f\x5f\x0a\x66\x72\x6f\x7a\x65\x6e\x73\x65\x74\x0a\x71\x17\x5d\x71\x18\x4b\x08\x61\x85"
    "\x71\x19\x52\x71\x1a\x58\x02\x00\x00\x00\x6f\x64\x71\x1b\x63\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f"
    "\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x0a\x71\x1c\x29\x52\x71\x1d\x58\x01\x00"
    "\x00\x00\x78\x71\x1e\x4b\x01\x73\x58\x01\x00\x00\x00\x65\x71\x1f\x29\x75\x2e",
    // protocol 3
    "\x80\x03\x7d\x71\x00\x28\x58\x01\x00\x00\x00\x61\x71\x01\x5d\x71\x02\x28\x4b\x01\x4a\xfe\xff\xff"
    "\xff\x47\x40\x0c\x00\x00\x00\x00\x00\x00\x4e\x88\x89\x4d\x2c\x01\x4a\x70\x11\x01\x00\x4a\x90\xee"
    "\xfe\xff\x65\x58\x01\x00\x00\x00\x74\x71\x03\x4b\x01\x4b\x02\x86\x71\x04\x58\x02\x00\x00\x00\x74"
    "\x34\x71\x05\x28\x4b\x01\x4b\x02\x4b\x03\x4b\x04\x74\x71\x06\x58\x01\x00\x00\x00\x73\x71\x07\x58"
    "\x0a\x00\x00\x00\x68\xc3\xa9\x6c\x6c\x6f\x20\xe2\x82\xac\x71\x08\x58\x01\x00\x00\x00\x62\x71\x09"
    "\x43\x02\x00\xff\x71\x0a\x58\x03\x00\x00\x00\x62\x69\x67\x71\x0b\x8a\x09\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x40\x58\x03\x00\x00\x00\x6e\x65\x67\x71\x0c\x8a\x06\x00\x00\x00\x00\x00\xff\x58\x03\x00"
    "\x00\x00\x73\x65\x74\x71\x0d\x63\x62\x75\x69\x6c\x74\x69\x6e\x73\x0a\x73\x65\x74\x0a\x71\x0e\x5d"
    "\x71\x0f\x4b\x07\x61\x85\x71\x10\x52\x71\x11\x58\x02\x00\x00\x00\x66\x73\x71\x12\x63\x62\x75\x69"
    "\x6c\x74\x69\x6e\x73\x0a\x66\x72\x6f\x7a\x65\x6e\x73\x65\x74\x0a\x71\x13\x5d\x71\x14\x4b\x08\x61"
    "\x85\x71\x15\x52\x71\x16\x58\x02\x00\x00\x00\x6f\x64\x71\x17\x63\x63\x6f\x6c\x6c\x65\x63\x74\x69"
    "\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x0a\x71\x18\x29\x52\x71\x19\x58\x01"
    "\x00\x00\x00\x78\x71\x1a\x4b\x01\x73\x58\x01\x00\x00\x00\x65\x71\x1b\x29\x75\x2e",
    // protocol 4
    "\x80\x04\x95\xc8\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x01\x61\x94\x5d\x94\x28\x4b\x01\x4a"
    "\xfe\xff\xff\xff\x47\x40\x0c\x00\x00\x00\x00\x00\x00\x4e\x88\x89\x4d\x2c\x01\x4a\x70\x11\x01\x00"
    "\x4a\x90\xee\xfe\xff\x65\x8c\x01\x74\x94\x4b\x01\x4b\x02\x86\x94\x8c\x02\x74\x34\x94\x28\x4b\x01"
    "\x4b\x02\x4b\x03\x4b\x04\x74\x94\x8c\x01\x73\x94\x8c\x0a\x68\xc3\xa9\x6c\x6c\x6f\x20\xe2\x82\xac"
    "\x94\x8c\x01\x62\x94\x43\x02\x00\xff\x94\x8c\x03\x62\x69\x67\x94\x8a\x09\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x40\x8c\x03\x6e\x65\x67\x94\x8a\x06\x00\x00\x00\x00\x00\xff\x8c\x03\x73\x65\x74\x94\x8f"
    "\x94\x28\x4b\x07\x90\x8c\x02\x66\x73\x94\x28\x4b\x08\x91\x94\x8c\x02\x6f\x64\x94\x8c\x0b\x63\x6f"
    "\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x94\x8c\x0b\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x94"
    "\x93\x94\x29\x52\x94\x8c\x01\x78\x94\x4b\x01\x73\x8c\x01\x65\x94\x29\x75\x2e",
    // protocol 5
    "\x80\x05\x95\xc8\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x01\x61\x94\x5d\x94\x28\x4b\x01\x4a"
    "\xfe\xff\xff\xff\x47\x40\x0c\x00\x00\x00\x00\x00\x00\x4e\x88\x89\x4d\x2c\x01\x4a\x70\x11\x01\x00"
    "\x4a\x90\xee\xfe\xff\x65\x8c\x01\x74\x94\x4b\x01\x4b\x02\x86\x94\x8c\x02\x74\x34\x94\x28\x4b\x01"
    "\x4b\x02\x4b\x03\x4b\x04\x74\x94\x8c\x01\x73\x94\x8c\x0a\x68\xc3\xa9\x6c\x6c\x6f\x20\xe2\x82\xac"
    "\x94\x8c\x01\x62\x94\x43\x02\x00\xff\x94\x8c\x03\x62\x69\x67\x94\x8a\x09\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x40\x8c\x03\x6e\x65\x67\x94\x8a\x06\x00\x00\x00\x00\x00\xff\x8c\x03\x73\x65\x74\x94\x8f"
    "\x94\x28\x4b\x07\x90\x8c\x02\x66\x73\x94\x28\x4b\x08\x91\x94\x8c\x02\x6f\x64\x94\x8c\x0b\x63\x6f"
    "\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x94\x8c\x0b\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x94"
    "\x93\x94\x29\x52\x94\x8c\x01\x78\x94\x4b\x01\x73\x8c\x01\x65\x94\x29\x75\x2e",
};
const size_t kSamplePickleSizes[] = {435, 386, 355, 308, 211, 211};

std::string Sample(int protocol) {
  return std::string(kSamplePickles[protocol], kSamplePickleSizes[protocol]);
}

absl::StatusOr<std::unique_ptr<Unpickled>> Load(const std::string& bytes) {
  UnpickleOptions options;
  options.source = "test.pkl";
  return Unpickle(bytes, options);
}

const Object& Get(const Object& dict, const char* key) {
  const Object* v = DictGet(dict, key);
  EXPECT_NE(v, nullptr) << key;
  static Object none;
  return v ? *v : none;
}

void CheckSample(const Object& root) {
  ASSERT_TRUE(root.is(Kind::kDict));
  EXPECT_EQ(root.dict_size(), 11u);
  const Object& a = Get(root, "a");
  ASSERT_TRUE(a.is(Kind::kList));
  ASSERT_EQ(a.items.size(), 9u);
  EXPECT_EQ(a.items[0]->i, 1);
  EXPECT_EQ(a.items[1]->i, -2);
  EXPECT_EQ(a.items[2]->f, 3.5);
  EXPECT_TRUE(a.items[3]->is(Kind::kNone));
  EXPECT_TRUE(a.items[4]->is(Kind::kBool) && a.items[4]->b);
  EXPECT_TRUE(a.items[5]->is(Kind::kBool) && !a.items[5]->b);
  EXPECT_EQ(a.items[6]->i, 300);
  EXPECT_EQ(a.items[7]->i, 70000);
  EXPECT_EQ(a.items[8]->i, -70000);
  const Object& t = Get(root, "t");
  ASSERT_TRUE(t.is(Kind::kTuple));
  EXPECT_EQ(t.items.size(), 2u);
  EXPECT_EQ(Get(root, "t4").items.size(), 4u);
  EXPECT_EQ(TextOf(Get(root, "s")), "h\xc3\xa9llo \xe2\x82\xac");
  const Object& b = Get(root, "b");
  ASSERT_TRUE(b.is(Kind::kBytes));
  absl::StatusOr<size_t> n = ByteSize(b);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 2u);
  char buf[2];
  ASSERT_TRUE(CopyBytes(b, buf, 2).ok());
  EXPECT_EQ(std::string(buf, 2), std::string("\x00\xff", 2));
  EXPECT_TRUE(Get(root, "big").is(Kind::kBigInt));
  EXPECT_EQ(Get(root, "neg").i, -(int64_t{1} << 40));
  const Object& set = Get(root, "set");
  ASSERT_TRUE(set.is(Kind::kSet));
  ASSERT_EQ(set.items.size(), 1u);
  EXPECT_EQ(set.items[0]->i, 7);
  const Object& fs = Get(root, "fs");
  ASSERT_TRUE(fs.is(Kind::kFrozenSet));
  EXPECT_EQ(fs.items[0]->i, 8);
  const Object& od = Get(root, "od");
  ASSERT_TRUE(od.is(Kind::kDict));
  EXPECT_TRUE(od.b);  // OrderedDict
  EXPECT_EQ(Get(od, "x").i, 1);
  EXPECT_TRUE(Get(root, "e").is(Kind::kTuple));
}

TEST(PickleVmTest, ReadsEveryProtocol) {
  for (int p = 0; p <= 5; ++p) {
    SCOPED_TRACE(absl::StrCat("protocol ", p));
    auto result = Load(Sample(p));
    ASSERT_TRUE(result.ok()) << result.status();
    CheckSample((*result)->root());
    EXPECT_TRUE((*result)->placeholders().empty());
  }
}

TEST(PickleVmTest, Python2StringsAreLatin1) {
  // Python 2: {'a': 1, 'name': '\xe9t\xe9'} with SHORT_BINSTRING / BINSTRING.
  const std::string bytes = PickleWriter()
                                .Proto(2).EmptyDict().Mark()
                                .Op('U').Op(1).Raw("a").Int(1)
                                .Op('U').Op(4).Raw("name").Py2Str("\xe9t\xe9")
                                .SetItems().Stop().bytes();
  auto result = Load(bytes);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(TextOf(Get((*result)->root(), "name")), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(Get((*result)->root(), "a").i, 1);
}

TEST(PickleVmTest, TextOpcodes) {
  // STRING with escapes, UNICODE with raw-unicode-escape, INT/LONG/FLOAT, GET/PUT, DICT, LIST.
  const std::string bytes =
      "(S'a\\'b\\x41\\n\\101'\np0\nV\\u20ac\\\\u\nI-5\nL123456789012345678901234567890L\n"
      "F-1.25\ng0\n(I1\nI2\ndl.";
  auto result = Load(bytes);
  ASSERT_TRUE(result.ok()) << result.status();
  const Object& list = (*result)->root();
  ASSERT_TRUE(list.is(Kind::kList));
  ASSERT_EQ(list.items.size(), 7u);
  EXPECT_EQ(TextOf(*list.items[0]), "a'bA\nA");
  EXPECT_EQ(TextOf(*list.items[1]), "\xe2\x82\xac\\\\u");
  EXPECT_EQ(list.items[2]->i, -5);
  EXPECT_TRUE(list.items[3]->is(Kind::kBigInt));
  EXPECT_EQ(list.items[4]->f, -1.25);
  EXPECT_EQ(list.items[5], list.items[0]);  // memo: same object
  EXPECT_TRUE(list.items[6]->is(Kind::kDict));
  EXPECT_EQ(list.items[6]->dict_size(), 1u);
}

TEST(PickleVmTest, RepeatedDictKeysReplaceValues) {
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark().Str("k").Int(1).Str("k").Int(2).SetItems().Stop();
  auto result = Load(w.bytes());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)->root().dict_size(), 1u);
  EXPECT_EQ(Get((*result)->root(), "k").i, 2);
}

TEST(PickleVmTest, TorchTensorDescriptor) {
  PickleWriter w;
  w.Proto(2).TorchTensor("FloatStorage", "7", 24, 2, {2, 3}, {3, 1}).Stop();
  UnpickleOptions options;
  options.torch_persistent_ids = true;
  auto result = Unpickle(w.bytes(), options);
  ASSERT_TRUE(result.ok()) << result.status();
  const Object& t = (*result)->root();
  ASSERT_TRUE(t.is(Kind::kTensor));
  EXPECT_EQ(t.tensor().offset, 2);
  EXPECT_EQ(t.tensor().sizes, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.tensor().strides, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(t.tensor().storage->storage().key, "7");
  EXPECT_EQ(t.tensor().storage->storage().dtype, DType::kFloat32);
  EXPECT_EQ(t.tensor().storage->storage().numel, 24);
  // Without torch_persistent_ids (a plain pickle) a persistent id is an error.
  EXPECT_FALSE(Load(w.bytes()).ok());
}

TEST(PickleVmTest, NumpyArrayDescriptor) {
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);  // 1.0f, -2.0f
  for (auto how : {PickleWriter::Data::kLatin1Text, PickleWriter::Data::kBytes,
                   PickleWriter::Data::kPy2Str}) {
    PickleWriter w;
    w.Proto(2).NumpyArray("f4", {2}, data, how).Stop();
    auto result = Load(w.bytes());
    ASSERT_TRUE(result.ok()) << result.status();
    const Object& a = (*result)->root();
    ASSERT_TRUE(a.is(Kind::kNdArray));
    EXPECT_TRUE(a.ndarray().built);
    EXPECT_EQ(a.ndarray().dtype.dtype, DType::kFloat32);
    EXPECT_EQ(a.ndarray().shape, (std::vector<int64_t>{2}));
    char buf[8];
    ASSERT_TRUE(CopyBytes(*a.ndarray().data, buf, 8).ok());
    EXPECT_EQ(std::string(buf, 8), data);
  }
  // Data size must match shape x itemsize, as numpy checks.
  PickleWriter bad;
  bad.Proto(2).NumpyArray("f4", {3}, data).Stop();
  auto result = Load(bad.bytes());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("need 12"), std::string::npos) << result.status();
}

TEST(PickleVmTest, NumpyScalarBecomesANumber) {
  PickleWriter w;
  w.Proto(2).Global("numpy.core.multiarray", "scalar");
  w.Global("numpy", "dtype").Str("i8").Bool(false).Bool(true).TupleN(3).Reduce();
  w.Latin1Bytes(std::string("\x2a\x00\x00\x00\x00\x00\x00\x00", 8)).TupleN(2).Reduce().Stop();
  auto result = Load(w.bytes());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE((*result)->root().is(Kind::kInt));
  EXPECT_EQ((*result)->root().i, 42);
}

// --- The allow-list ----------------------------------------------------------------------------

std::string PwnedPath() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/d2x_pwned_", getpid());
}

TEST(PickleVmTest, RefusesCodeExecutionGlobalsAndRunsNothing) {
  const std::string target = PwnedPath();
  const std::string cmd = "touch " + target;
  std::vector<std::string> attacks;
  attacks.push_back("cos\nsystem\n(S'" + cmd + "'\ntR.");  // protocol 0
  attacks.push_back(PickleWriter().Proto(2).Global("os", "system").Str(cmd).TupleN(1).Reduce()
                        .Stop().bytes());
  attacks.push_back(PickleWriter().Proto(2).Global("posix", "system").Str(cmd).TupleN(1).Reduce()
                        .Stop().bytes());
  // Protocol 4: STACK_GLOBAL with SHORT_BINUNICODE module / name, MEMOIZE, inside a FRAME.
  std::string body = PickleWriter().Op(0x8c).Op(2).Raw("os").Op(0x94).Op(0x8c).Op(6).Raw("system")
                         .Op(0x94).Op(0x93).Op(0x94).Str(cmd).Op(0x94).TupleN(1).Op(0x94).Reduce()
                         .Op(0x94).Stop().bytes();
  std::string frame = PickleWriter().Proto(4).Op(0x95).bytes();
  for (int k = 0; k < 8; ++k) frame.push_back(static_cast<char>(k == 0 ? body.size() : 0));
  attacks.push_back(frame + body);
  attacks.push_back(PickleWriter().Proto(4).Str("subprocess").Str("check_call").Op(0x93)
                        .Mark().Str("sh").Str("-c").Str(cmd).Op('l').TupleN(1).Reduce().Stop()
                        .bytes());
  attacks.push_back(PickleWriter().Proto(2).Global("__builtin__", "eval").Str("1").TupleN(1)
                        .Reduce().Stop().bytes());
  attacks.push_back(PickleWriter().Proto(3).Global("builtins", "getattr").Stop().bytes());
  // Hidden inside an otherwise fine checkpoint dict.
  attacks.push_back(PickleWriter().Proto(2).EmptyDict().Str("model").EmptyDict().SetItem()
                        .Str("optimizer").Global("os", "system").Str(cmd).TupleN(1).Reduce()
                        .SetItem().Stop().bytes());
  for (const std::string& attack : attacks) {
    auto result = Load(attack);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied) << result.status();
    EXPECT_NE(result.status().message().find("refusing global"), std::string::npos);
    EXPECT_EQ(result.status().message().find('\n'), std::string::npos);
  }
  EXPECT_NE(access(target.c_str(), F_OK), 0) << "a pickle created " << target;
}

TEST(PickleVmTest, UnknownClassesBecomeInertPlaceholders) {
  // {"model": {"w": 1}, "optimizer": some.module.Optimizer(...) with state, appends, items}
  PickleWriter w;
  w.Proto(2).EmptyDict().Str("model").EmptyDict().Str("w").Int(1).SetItem().SetItem();
  w.Str("optimizer").Global("some.module", "Optimizer").Str("arg").TupleN(1).Reduce();
  w.EmptyDict().Build().Int(5).Append().Str("k").Int(6).SetItem();
  w.Global("other", "Thing").EmptyTuple().Op(0x81);  // NEWOBJ
  w.TupleN(1).Reduce();  // optimizer(thing): a placeholder called with arguments
  w.SetItem().Stop();
  auto result = Load(w.bytes());
  ASSERT_TRUE(result.ok()) << result.status();
  const Object& root = (*result)->root();
  EXPECT_EQ(Get(Get(root, "model"), "w").i, 1);
  EXPECT_TRUE(Get(root, "optimizer").is(Kind::kOpaque));
  EXPECT_EQ((*result)->placeholders(),
            (std::vector<std::string>{"some.module.Optimizer", "other.Thing"}));
}

// --- Hostile input -----------------------------------------------------------------------------

void ExpectOneLineError(const std::string& bytes, const std::string& expected_substring = "") {
  absl::StatusOr<std::unique_ptr<Unpickled>> result = Load(bytes);
  ASSERT_FALSE(result.ok());
  const std::string msg(result.status().message());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(msg.rfind("test.pkl: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("offset"), std::string::npos) << msg;
  if (!expected_substring.empty()) {
    EXPECT_NE(msg.find(expected_substring), std::string::npos) << msg;
  }
}

TEST(PickleVmTest, EveryTruncationIsAnError) {
  for (int p = 0; p <= 5; ++p) {
    const std::string full = Sample(p);
    for (size_t n = 0; n < full.size(); ++n) {
      SCOPED_TRACE(absl::StrCat("protocol ", p, " length ", n));
      ExpectOneLineError(full.substr(0, n));
    }
  }
}

TEST(PickleVmTest, BitFlipsNeverCrash) {
  std::mt19937 rng(12345);
  int ok = 0, errors = 0;
  for (int p = 0; p <= 5; ++p) {
    const std::string full = Sample(p);
    for (int trial = 0; trial < 2000; ++trial) {
      std::string bytes = full;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        bytes[rng() % bytes.size()] ^= static_cast<char>(1u << (rng() % 8));
      }
      auto result = Load(bytes);
      if (result.ok()) {
        ++ok;
        (void)Describe((*result)->root(), 3);
      } else {
        ++errors;
        EXPECT_EQ(result.status().message().find('\n'), std::string::npos);
      }
    }
  }
  EXPECT_GT(errors, 0);
  EXPECT_GT(ok + errors, 0);
}

TEST(PickleVmTest, RandomBytesNeverCrash) {
  std::mt19937 rng(777);
  for (int trial = 0; trial < 5000; ++trial) {
    std::string bytes(1 + rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    (void)Load(bytes);
  }
}

TEST(PickleVmTest, HugeDeclaredSizesFailBeforeAllocating) {
  auto with_length = [](unsigned char op, int width, uint64_t n) {
    std::string s = PickleWriter().Proto(4).Op(op).bytes();
    for (int k = 0; k < width; ++k) s.push_back(static_cast<char>(n >> (8 * k)));
    return s + "abc.";
  };
  ExpectOneLineError(with_length(0x8d, 8, uint64_t{1} << 60), "BINUNICODE8");  // BINUNICODE8
  ExpectOneLineError(with_length(0x8e, 8, ~uint64_t{0}), "exceeds");          // BINBYTES8
  ExpectOneLineError(with_length(0x96, 8, uint64_t{1} << 40), "exceeds");     // BYTEARRAY8
  ExpectOneLineError(with_length('X', 4, 0xFFFFFFFFu), "exceeds");            // BINUNICODE
  ExpectOneLineError(with_length('B', 4, 0x7FFFFFFFu), "exceeds");            // BINBYTES
  ExpectOneLineError(with_length('T', 4, 0x80000000u), "negative");           // BINSTRING
  ExpectOneLineError(with_length(0x8b, 4, 0x7FFFFFFFu), "exceeds");           // LONG4
  ExpectOneLineError(with_length(0x95, 8, uint64_t{1} << 62), "FRAME");       // FRAME
}

TEST(PickleVmTest, RecursionBombsAreErrors) {
  // 100k nested lists: EMPTY_LIST x 100000, APPEND x 99999.
  std::string lists = PickleWriter().Proto(2).bytes() + std::string(100000, ']') +
                      std::string(99999, 'a') + ".";
  ExpectOneLineError(lists, "nest deeper");
  // 100k MARKs.
  ExpectOneLineError(PickleWriter().Proto(2).bytes() + std::string(100000, '(') + "N.", "MARK");
  // A list appended to itself over and over (a cycle): bounded too.
  std::string self = PickleWriter().Proto(2).EmptyList().bytes();
  for (int k = 0; k < 5000; ++k) self += "2a";
  ExpectOneLineError(self + ".", "nest deeper");
  // Nested tuples via MARK ... TUPLE.
  ExpectOneLineError(std::string(3000, '(') + std::string(3000, 't') + ".", "nest deeper");
}

TEST(PickleVmTest, MemoryBudgetBoundsAmplification) {
  // Re-creating containers from one memoized list must hit the budget, not exhaust memory.
  PickleWriter w;
  w.Proto(2).Mark();
  for (int k = 0; k < 1000; ++k) w.Int(k);
  w.Op('l').BinPut(0).Op('0');
  std::string bytes = w.bytes();
  PickleWriter body;
  body.Global("builtins", "set").BinGet(0).TupleN(1).Reduce().Op('0');
  for (int k = 0; k < 20000; ++k) bytes += body.bytes();
  UnpickleOptions options;
  options.memory_budget = 16 << 20;
  auto result = Unpickle(bytes + "N.", options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
}

TEST(PickleVmTest, MalformedStructure) {
  ExpectOneLineError("a.", "underflow");                    // APPEND on an empty stack
  ExpectOneLineError("(a.", "underflow");                   // cannot pop across a MARK
  ExpectOneLineError("N(Na.", "underflow");
  ExpectOneLineError("h\x05.", "memo key 5 not found");     // BINGET of an unset key
  ExpectOneLineError("t.", "MARK");                         // TUPLE without MARK
  ExpectOneLineError("NNNs.", "cannot set items of a None");
  ExpectOneLineError("\x80\x06N.", "protocol");
  ExpectOneLineError("\xff.", "invalid opcode 0xff");
  ExpectOneLineError("KxKxR.", "not callable");
  ExpectOneLineError("N", "without STOP");
  ExpectOneLineError(".", "underflow");
  ExpectOneLineError(PickleWriter().Str("\xc3\x28").Stop().bytes(), "UTF-8");  // invalid UTF-8
  ExpectOneLineError("\x97.", "out-of-band");
  ExpectOneLineError("\x82\x01.", "extension");
}

TEST(PickleVmTest, ErrorsNameOffsetAndOpcode) {
  // PROTO 2, EMPTY_DICT, BINPUT 0, BINUNICODE 'a', BINGET 9 (unset), SETITEM, STOP.
  auto result = Load(PickleWriter().Proto(2).EmptyDict().BinPut(0).Str("a").BinGet(9).SetItem()
                         .Stop().bytes());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "test.pkl: pickle offset 11 (opcode BINGET): memo key 9 not found");
}

TEST(PickleTextTest, Latin1Utf8Scan) {
  size_t n = 0;
  EXPECT_TRUE(ScanLatin1Utf8("abc\xc3\xa9\xc2\x80xyz0123456789", &n));
  EXPECT_EQ(n, 18u);
  EXPECT_FALSE(ScanLatin1Utf8("\xc4\x80", &n));   // U+0100
  EXPECT_FALSE(ScanLatin1Utf8("abcdefg\xc3", &n));  // truncated
  EXPECT_FALSE(ScanLatin1Utf8("\x80", &n));       // lone continuation
  EXPECT_FALSE(ScanLatin1Utf8("\xc1\x81", &n));   // overlong
  EXPECT_TRUE(ValidateUtf8("\xe2\x82\xac \xf0\x9f\x98\x80").ok());
  EXPECT_FALSE(ValidateUtf8("\xe2\x82").ok());
  std::string text;
  for (int i = 0; i < 1000; ++i) AppendUtf8(static_cast<uint32_t>((i * 37) & 0xFF), &text);
  absl::StatusOr<size_t> len = Latin1Length(text);
  ASSERT_TRUE(len.ok());
  ASSERT_EQ(*len, 1000u);
  std::string out(1000, '\0');
  Utf8ToLatin1(text, out.data(), out.size());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(static_cast<unsigned char>(out[i]), (i * 37) & 0xFF);
}

TEST(PickleTextTest, Latin1DecoderMatchesAReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    std::string expected(rng() % 200, '\0');
    for (char& c : expected) {
      // Mostly ASCII, mostly non-ASCII or mixed runs.
      const unsigned r = rng();
      c = static_cast<char>(trial % 3 == 0 ? (r & 0x7F) : trial % 3 == 1 ? (0x80 | r) : r);
    }
    std::string text;
    for (unsigned char c : expected) AppendUtf8(c, &text);
    absl::StatusOr<size_t> n = Latin1Length(text);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, expected.size());
    // Exactly-sized buffer with guard bytes after it: the decoder must not write past the end.
    std::string out(expected.size() + 16, '#');
    Utf8ToLatin1(text, out.data(), expected.size());
    ASSERT_EQ(out.substr(0, expected.size()), expected) << "trial " << trial;
    ASSERT_EQ(out.substr(expected.size()), std::string(16, '#')) << "trial " << trial;
  }
}

}  // namespace
}  // namespace d2x::checkpoint::pickle
