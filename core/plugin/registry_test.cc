#include "core/plugin/registry.h"

#include "core/exporter.h"
#include "gtest/gtest.h"

namespace d2x::plugin {
namespace {

RunnerFactory NullRunner() {
  return [] { return std::unique_ptr<Runner>(); };
}

TEST(RegistryTest, CommitAddsEntriesWithProvenance) {
  Registry registry;
  Registrar staged;
  staged.AddRunner("fmt", NullRunner());
  ASSERT_TRUE(registry.Commit(staged, {"p", "1.0", "/x/libp.so"}).ok());
  const Entry<RunnerFactory>* entry = registry.FindRunner("fmt");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->provenance.path, "/x/libp.so");
  EXPECT_EQ(registry.Names(EntryKind::kRunner), std::vector<std::string>{"fmt"});
}

TEST(RegistryTest, DuplicateWithinOnePluginIsRejected) {
  Registry registry;
  Registrar staged;
  staged.AddRunner("fmt", NullRunner());
  staged.AddRunner("fmt", NullRunner());
  absl::Status status = registry.Commit(staged, {"p", "1.0", "/x/libp.so"});
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(status.message().find("twice"), std::string::npos);
  EXPECT_TRUE(registry.List().empty());
}

TEST(RegistryTest, SameNameInDifferentCategoriesIsFine) {
  Registry registry;
  Registrar staged;
  staged.AddRunner("onnx", NullRunner());
  staged.AddExporter("onnx", [] { return std::unique_ptr<Exporter>(); });
  EXPECT_TRUE(registry.Commit(staged, {"p", "1.0", "/x/libp.so"}).ok());
  EXPECT_EQ(registry.List().size(), 2u);
}

TEST(RegistryTest, EmptyNameIsRejected) {
  Registry registry;
  Registrar staged;
  staged.AddRunner("", NullRunner());
  EXPECT_EQ(registry.Commit(staged, {"p", "1.0", "/x/libp.so"}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace d2x::plugin
