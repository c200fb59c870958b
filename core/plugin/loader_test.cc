#include "core/plugin/loader.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace d2x::plugin {
namespace {

std::string TestPlugin(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                      "/core/plugin/testdata/lib", name, ".so");
}

std::string WriteTempFile(const std::string& name, const std::string& contents) {
  std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// Each test uses its own registry; libraries loaded by dlopen stay loaded across tests, which the
// loader must tolerate (a fresh loader + registry can load the same file again).
class LoaderTest : public ::testing::Test {
 protected:
  Registry registry_;
  PluginLoader loader_{registry_};
};

TEST_F(LoaderTest, GoodPluginRegistersWithProvenance) {
  const std::string path = TestPlugin("good_plugin");
  absl::StatusOr<PluginRecord> record = loader_.Load(path);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->name, "good");
  EXPECT_EQ(record->version, "1.2.3");
  EXPECT_EQ(record->num_entries, 4);
  EXPECT_EQ(record->build_fingerprint, HostBuildFingerprint());
  const auto* exporter = registry_.FindExporter("test_format");
  ASSERT_NE(exporter, nullptr);
  EXPECT_EQ(exporter->provenance.plugin_name, "good");
  EXPECT_EQ(exporter->provenance.plugin_version, "1.2.3");
  EXPECT_EQ(exporter->provenance.path, path);
  EXPECT_NE(registry_.FindModelBuilder("TestArch"), nullptr);
  EXPECT_NE(registry_.FindRewriter("TestArch"), nullptr);
  EXPECT_NE(registry_.FindRunner("test_format"), nullptr);
  ASSERT_EQ(loader_.loaded().size(), 1u);
}

TEST_F(LoaderTest, LoadingTheSameFileTwiceIsAnError) {
  ASSERT_TRUE(loader_.Load(TestPlugin("good_plugin")).ok());
  absl::StatusOr<PluginRecord> again = loader_.Load(TestPlugin("good_plugin"));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already loaded"), std::string::npos);
}

TEST_F(LoaderTest, AbiMajorMismatchIsRefused) {
  const std::string path = TestPlugin("abi_mismatch_plugin");
  absl::StatusOr<PluginRecord> record = loader_.Load(path);
  ASSERT_FALSE(record.ok());
  EXPECT_NE(record.status().message().find(path), std::string::npos) << record.status();
  EXPECT_NE(record.status().message().find("ABI mismatch"), std::string::npos);
  EXPECT_NE(record.status().message().find("host has ABI " + HostAbiVersion()), std::string::npos);
  EXPECT_TRUE(registry_.List().empty());
}

TEST_F(LoaderTest, FingerprintMismatchNamesBothSides) {
  absl::StatusOr<PluginRecord> record = loader_.Load(TestPlugin("fingerprint_mismatch_plugin"));
  ASSERT_FALSE(record.ok());
  EXPECT_NE(record.status().message().find("compiler=other;torch=0.0.0"), std::string::npos)
      << record.status();
  EXPECT_NE(record.status().message().find(HostBuildFingerprint()), std::string::npos);
}

TEST_F(LoaderTest, MissingEntrySymbol) {
  absl::StatusOr<PluginRecord> record = loader_.Load(TestPlugin("no_entry_plugin"));
  ASSERT_FALSE(record.ok());
  EXPECT_NE(record.status().message().find("no entry point 'd2x_plugin_info'"), std::string::npos)
      << record.status();
}

TEST_F(LoaderTest, NotAnElfFile) {
  const std::string path = WriteTempFile("garbage.so", "this is not a shared library\n");
  absl::StatusOr<PluginRecord> record = loader_.Load(path);
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(record.status().message().find(path), std::string::npos);
  EXPECT_NE(record.status().message().find("not an ELF"), std::string::npos);
}

TEST_F(LoaderTest, TruncatedElfFileFailsInDlopen) {
  const std::string path = WriteTempFile("truncated.so", std::string("\x7f" "ELF\x02\x01\x01", 7));
  absl::StatusOr<PluginRecord> record = loader_.Load(path);
  ASSERT_FALSE(record.ok());
  EXPECT_NE(record.status().message().find("dlopen failed"), std::string::npos) << record.status();
}

TEST_F(LoaderTest, NonexistentPath) {
  absl::StatusOr<PluginRecord> record = loader_.Load("/nonexistent/libd2x_nothing.so");
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(record.status().message().find("/nonexistent/libd2x_nothing.so"), std::string::npos);
}

TEST_F(LoaderTest, DuplicateNameRollsBackWholePluginAndKeepsOthers) {
  ASSERT_TRUE(loader_.Load(TestPlugin("good_plugin")).ok());
  absl::StatusOr<PluginRecord> record = loader_.Load(TestPlugin("duplicate_plugin"));
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(record.status().message().find("exporter 'test_format'"), std::string::npos)
      << record.status();
  EXPECT_NE(record.status().message().find("plugin 'good'"), std::string::npos);
  // The duplicate plugin's other, valid entry was rolled back too.
  EXPECT_EQ(registry_.FindExporter("fresh_format"), nullptr);
  // The good plugin's entries are untouched.
  ASSERT_NE(registry_.FindExporter("test_format"), nullptr);
  EXPECT_EQ(registry_.FindExporter("test_format")->provenance.plugin_name, "good");
  EXPECT_EQ(loader_.loaded().size(), 1u);
}

TEST_F(LoaderTest, FailingRegisterFunctionRegistersNothing) {
  absl::StatusOr<PluginRecord> record = loader_.Load(TestPlugin("failing_plugin"));
  ASSERT_FALSE(record.ok());
  EXPECT_NE(record.status().message().find("cannot initialise the failing backend"),
            std::string::npos)
      << record.status();
  EXPECT_EQ(registry_.FindExporter("failing_format"), nullptr);
}

TEST_F(LoaderTest, ThrowingRegisterFunctionIsCaughtInThePlugin) {
  absl::StatusOr<PluginRecord> record = loader_.Load(TestPlugin("throwing_plugin"));
  ASSERT_FALSE(record.ok());
  EXPECT_NE(record.status().message().find("boom"), std::string::npos) << record.status();
  EXPECT_EQ(registry_.FindExporter("throwing_format"), nullptr);
}

TEST(ListPluginFilesTest, DirectoryGivesSortedSharedLibraries) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/plugdir");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/b.so") << "x";
  std::ofstream(dir + "/a.so") << "x";
  std::ofstream(dir + "/readme.txt") << "x";
  absl::StatusOr<std::vector<std::string>> files = ListPluginFiles(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, (std::vector<std::string>{dir + "/a.so", dir + "/b.so"}));
}

TEST(ListPluginFilesTest, MissingPathIsAnError) {
  EXPECT_EQ(ListPluginFiles("/nonexistent/dir").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace d2x::plugin
