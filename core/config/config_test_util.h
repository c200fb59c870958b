// Helpers shared by the //core/config:config_test sources.
#ifndef D2X_CORE_CONFIG_CONFIG_TEST_UTIL_H_
#define D2X_CORE_CONFIG_CONFIG_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "core/testing/fixtures.h"
#include "gtest/gtest.h"

namespace d2x::config::test_util {

// <fixtures>/<arch>/config.yaml (fails the test when missing).
inline std::string FixtureConfig(const std::string& arch) {
  absl::StatusOr<std::string> path = d2x::testing::FixturePath(arch, "config.yaml");
  EXPECT_TRUE(path.ok()) << path.status();
  return path.ok() ? *path : "";
}

// A fresh directory under $TEST_TMPDIR.
inline std::string TempDir(const std::string& name) {
  namespace fs = std::filesystem;
  const char* tmp = std::getenv("TEST_TMPDIR");
  fs::path dir = fs::path(tmp != nullptr ? tmp : "/tmp") / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

// Errors are one line.
inline void ExpectOneLine(const absl::Status& s) {
  EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos) << s;
}

}  // namespace d2x::config::test_util

#endif  // D2X_CORE_CONFIG_CONFIG_TEST_UTIL_H_
