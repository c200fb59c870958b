// Test helper: writes crafted checkpoint files (raw files, torch.save-style zip archives) into
// $TEST_TMPDIR. Header-only, testonly.
#ifndef D2X_CORE_CHECKPOINT_TEST_FILES_H_
#define D2X_CORE_CHECKPOINT_TEST_FILES_H_

#include <caffe2/serialize/inline_container.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace d2x::checkpoint::testing {

inline std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

inline std::string WriteFile(const std::string& name, const std::string& bytes) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A zip archive like torch.save writes: <stem>/data.pkl, <stem>/data/<key>, <stem>/version.
inline std::string WriteZip(const std::string& name, const std::string& data_pkl,
                            const std::vector<std::pair<std::string, std::string>>& storages) {
  const std::string path = TempPath(name);
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", data_pkl.data(), data_pkl.size());
  for (const auto& [key, bytes] : storages) {
    writer.writeRecord("data/" + key, bytes.data(), bytes.size());
  }
  writer.writeEndOfFile();
  return path;
}

template <typename T>
std::string RawBytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

}  // namespace d2x::checkpoint::testing

#endif  // D2X_CORE_CHECKPOINT_TEST_FILES_H_
