#include "plugins/format/onnx/ort_node_runner.h"

#include <ATen/ATen.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace d2x::onnx_format {
namespace fs = std::filesystem;
namespace {

absl::StatusOr<std::string> DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return std::string("float32");
    case at::kDouble: return std::string("float64");
    case at::kLong: return std::string("int64");
    case at::kInt: return std::string("int32");
    case at::kBool: return std::string("bool");
    case at::kByte: return std::string("uint8");
    default: return absl::InvalidArgumentError(absl::StrCat("ort: dtype ", c10::toString(t)));
  }
}

absl::StatusOr<at::ScalarType> DtypeOf(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "int64") return at::kLong;
  if (name == "int32") return at::kInt;
  if (name == "bool") return at::kBool;
  if (name == "uint8") return at::kByte;
  return absl::InvalidArgumentError(absl::StrCat("ort: output dtype '", name, "'"));
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''"; else out += c;
  }
  return out + "'";
}

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The node process's stderr without the JavaScript stack frames ("    at ..." lines): the error
// message is what names the problem (e.g. "Load model from model.onnx failed: Protobuf parsing
// failed").
std::string NodeErrorText(const std::string& stderr_text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(stderr_text, '\n', absl::SkipWhitespace())) {
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "at ")) continue;
    lines.emplace_back(absl::StripTrailingAsciiWhitespace(line));
  }
  return absl::StrJoin(lines, "\n");
}

}  // namespace

absl::StatusOr<std::string> FindOnnxRuntimeNode(const std::string& start) {
  if (const char* env = std::getenv("D2X_ORT_NODE_DIR"); env != nullptr && *env != '\0') {
    if (fs::is_directory(env)) return std::string(env);
    return absl::NotFoundError(absl::StrCat("$D2X_ORT_NODE_DIR=", env, " is not a directory"));
  }
  std::error_code ec;
  fs::path p = fs::weakly_canonical(start, ec);
  for (; !p.empty(); p = p.parent_path()) {
    const fs::path candidate = p / "node_modules" / "onnxruntime-node";
    if (fs::is_regular_file(candidate / "package.json", ec)) return candidate.string();
    if (p == p.parent_path()) break;
  }
  return absl::NotFoundError(absl::StrCat(
      "ort: node_modules/onnxruntime-node not found above ", start,
      " (run tools/setup.sh: ONNXRUNTIME_NODE_INSTALL=skip npm ci, or set $D2X_ORT_NODE_DIR)"));
}

namespace {

// A temporary directory removed with its contents at the end of the scope.
struct TempDir {
  fs::path path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// In /dev/shm (memory) when available: the tensors (e.g. 87 MB of pasted masks) never hit a disk.
absl::StatusOr<fs::path> MakeTempDir() {
  std::error_code ec;
  const std::string base = fs::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
  std::string tmpl = base + "/d2x_ort_XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    tmpl = "/tmp/d2x_ort_XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("ort: mkdtemp failed");
  }
  return fs::path(tmpl);
}

absl::Status WriteInputs(const fs::path& dir,
                         const std::vector<std::pair<std::string, at::Tensor>>& inputs) {
  nlohmann::json specs = nlohmann::json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const at::Tensor t = inputs[i].second.contiguous().cpu();
    absl::StatusOr<std::string> dtype = DtypeName(t.scalar_type());
    if (!dtype.ok()) return dtype.status();
    const std::string file = absl::StrCat("in_", i, ".bin");
    std::ofstream out(dir / file, std::ios::binary);
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    if (!out) return absl::InternalError(absl::StrCat("ort: writing ", (dir / file).string()));
    specs.push_back({{"name", inputs[i].first}, {"dtype", *dtype}, {"shape", t.sizes().vec()},
                     {"file", file}});
  }
  std::ofstream(dir / "inputs.json") << specs.dump();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<at::Tensor>> ReadOutputs(const fs::path& dir) {
  nlohmann::json outs;
  try {
    outs = nlohmann::json::parse(ReadAll(dir / "outputs.json"));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("ort: outputs.json: ", e.what()));
  }
  std::vector<at::Tensor> result;
  for (const nlohmann::json& o : outs) {
    absl::StatusOr<at::ScalarType> type = DtypeOf(o.at("dtype").get<std::string>());
    if (!type.ok()) return type.status();
    const std::vector<int64_t> shape = o.at("shape").get<std::vector<int64_t>>();
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(*type));
    const std::string bytes = ReadAll(dir / o.at("file").get<std::string>());
    if (bytes.size() != t.nbytes()) {
      return absl::DataLossError(absl::StrCat("ort: output ", o.at("name").get<std::string>(),
                                              ": ", bytes.size(), " bytes, expected ",
                                              t.nbytes()));
    }
    if (!bytes.empty()) std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
    result.push_back(t);
  }
  return result;
}

std::string NodeExecutable(const OrtNodeConfig& config) {
  if (const char* env = std::getenv("D2X_NODE"); env != nullptr && *env != '\0') return env;
  return config.node;
}

}  // namespace

absl::StatusOr<std::string> OnnxRuntimeNodeVersion(const std::string& onnxruntime_node_dir) {
  const fs::path p = fs::path(onnxruntime_node_dir) / "package.json";
  try {
    const nlohmann::json pkg = nlohmann::json::parse(ReadAll(p));
    return pkg.at("version").get<std::string>();
  } catch (const std::exception& e) {
    return absl::NotFoundError(absl::StrCat("ort: reading the version from ", p.string(), ": ",
                                            e.what()));
  }
}

absl::StatusOr<std::string> CheckOnnxRuntimeNode(const std::string& onnxruntime_node_dir,
                                                 const std::string& node) {
  D2X_ASSIGN_OR_RETURN(const std::string version, OnnxRuntimeNodeVersion(onnxruntime_node_dir));
  absl::StatusOr<fs::path> made = MakeTempDir();
  if (!made.ok()) return made.status();
  TempDir dir{*made};
  OrtNodeConfig config;
  config.node = node;
  // Prints node's version once the binding (the native libonnxruntime) has loaded, else the
  // first line of the error.
  const std::string cmd = absl::StrCat(
      Quote(NodeExecutable(config)),
      " -e 'try { require(process.argv[1]); process.stdout.write(process.version); } catch (e) { "
      "process.stderr.write(String(e.message).split(\"\\n\")[0]); process.exit(1); }' ",
      Quote(onnxruntime_node_dir), " >", Quote((dir.path / "stdout.txt").string()), " 2>",
      Quote((dir.path / "stderr.txt").string()));
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ort: ", NodeExecutable(config), " cannot load onnxruntime-node ", version, " from ",
        onnxruntime_node_dir, " (exit status ", WIFEXITED(rc) ? WEXITSTATUS(rc) : rc, "): ",
        NodeErrorText(ReadAll(dir.path / "stderr.txt")),
        " (run tools/setup.sh, or set $D2X_NODE / $D2X_ORT_NODE_DIR)"));
  }
  return absl::StrCat("ONNX Runtime ", version, " (onnxruntime-node at ", onnxruntime_node_dir,
                      ", node ", ReadAll(dir.path / "stdout.txt"), ")");
}

absl::StatusOr<std::vector<at::Tensor>> RunInOnnxRuntime(
    const OrtNodeConfig& config, const std::string& model_path,
    const std::vector<std::pair<std::string, at::Tensor>>& inputs) {
  absl::StatusOr<fs::path> made = MakeTempDir();
  if (!made.ok()) return made.status();
  TempDir dir{*made};
  if (absl::Status s = WriteInputs(dir.path, inputs); !s.ok()) return s;
  const std::string cmd = absl::StrCat(
      Quote(NodeExecutable(config)), " ", Quote(config.script), " ",
      Quote(config.onnxruntime_node_dir), " ", Quote(model_path), " ", Quote(dir.path.string()),
      " ", config.threads, " 2>", Quote((dir.path / "stderr.txt").string()));
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("ort: `", cmd, "` failed (status ", rc, "): ",
                                            ReadAll(dir.path / "stderr.txt")));
  }
  return ReadOutputs(dir.path);
}

absl::StatusOr<std::unique_ptr<OrtNodeServer>> OrtNodeServer::Start(
    const OrtNodeConfig& config, const std::string& model_path) {
  std::unique_ptr<OrtNodeServer> server(new OrtNodeServer());
  server->model_path_ = model_path;
  char tmpl[] = "/tmp/d2x_ort_stderr_XXXXXX";
  const int err_fd = mkstemp(tmpl);
  if (err_fd < 0) return absl::InternalError("ort: mkstemp failed");
  server->stderr_path_ = tmpl;
  // stdin is a socket so that a write after the child died fails with EPIPE (MSG_NOSIGNAL)
  // instead of killing this process with SIGPIPE.
  int in_pipe[2], out_pipe[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, in_pipe) != 0 || pipe(out_pipe) != 0) {
    close(err_fd);
    return absl::InternalError("ort: pipe failed");
  }
  const std::string node = NodeExecutable(config);
  const std::string threads = std::to_string(config.threads);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("ort: fork failed");
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_fd, 2);
    close(in_pipe[1]);
    close(out_pipe[0]);
    execlp(node.c_str(), node.c_str(), config.script.c_str(), config.onnxruntime_node_dir.c_str(),
           model_path.c_str(), "--serve", threads.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(err_fd);
  close(in_pipe[0]);
  close(out_pipe[1]);
  server->pid_ = pid;
  server->to_child_ = in_pipe[1];
  server->from_child_ = fdopen(out_pipe[0], "r");
  absl::StatusOr<std::string> ready = server->ReadLine();
  if (!ready.ok()) return ready.status();
  if (ready->rfind("ready ", 0) != 0) {
    return absl::InternalError(absl::StrCat("ort: ", node, " ", config.script, " on ", model_path,
                                            " did not start: '", *ready, "'"));
  }
  server->ort_version_ = ready->substr(6);
  return server;
}

absl::StatusOr<std::string> OrtNodeServer::ReadLine() {
  std::string line;
  for (int c = fgetc(from_child_); c != EOF && c != '\n'; c = fgetc(from_child_)) {
    line.push_back(static_cast<char>(c));
  }
  if (line.empty() && feof(from_child_)) {
    return absl::InternalError(absl::StrCat("ort: the ONNX Runtime process for ", model_path_,
                                            " exited: ", NodeErrorText(ReadAll(stderr_path_))));
  }
  return line;
}

absl::StatusOr<std::vector<at::Tensor>> OrtNodeServer::Run(
    const std::vector<std::pair<std::string, at::Tensor>>& inputs) {
  absl::StatusOr<fs::path> made = MakeTempDir();
  if (!made.ok()) return made.status();
  TempDir dir{*made};
  if (absl::Status s = WriteInputs(dir.path, inputs); !s.ok()) return s;
  const std::string request = dir.path.string() + "\n";
  if (send(to_child_, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::InternalError(absl::StrCat("ort: the ONNX Runtime process for ", model_path_,
                                            " is gone: ", ReadAll(stderr_path_)));
  }
  absl::StatusOr<std::string> reply = ReadLine();
  if (!reply.ok()) return reply.status();
  if (reply->rfind("ok ", 0) != 0) {
    return absl::InternalError(absl::StrCat("ort: running ", model_path_, ": ", *reply));
  }
  last_run_seconds_ = std::atof(reply->c_str() + 3);
  return ReadOutputs(dir.path);
}

OrtNodeServer::~OrtNodeServer() {
  if (to_child_ >= 0) close(to_child_);  // end of stdin: the server exits
  if (from_child_ != nullptr) fclose(from_child_);
  if (pid_ > 0) {
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  if (!stderr_path_.empty()) fs::remove(stderr_path_, ec);
}

}  // namespace d2x::onnx_format
