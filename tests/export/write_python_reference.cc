// Part of //tests/export:python_interop_test. Exports a fixture model to TorchScript (tracing and
// scripting) into <out>/<arch>_<method>, and writes what the artifact returns in C++ for a batch
// of the two fixture images: <out>/<arch>.inputs.pt and <out>/<arch>.expected.pt
// (torch::pickle_save, readable with torch.load). The Python side must reproduce them exactly.
//
//   write_python_reference OUT_DIR ARCH...
#include <torch/script.h>
#include <torch/serialize.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/export/artifact.h"
#include "core/export/export_pipeline.h"
#include "core/io/image.h"
#include "core/testing/fixtures.h"
#include "tests/export/export_test_util.h"

namespace {

int Fail(const std::string& what) {
  std::cerr << "write_python_reference: " << what << "\n";
  return 1;
}

absl::Status WritePickle(const std::string& path, const std::vector<at::Tensor>& tensors) {
  c10::List<at::Tensor> list;
  for (const at::Tensor& t : tensors) list.push_back(t);
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(list));
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return out ? absl::OkStatus() : absl::InternalError("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Fail("usage: write_python_reference OUT_DIR ARCH...");
  const std::string out = argv[1];
  using namespace d2x;
  for (int a = 2; a < argc; ++a) {
    const std::string arch = argv[a];
    absl::StatusOr<exporting::ExportInputs> inputs = export_test::TorchScriptFixtureExportInputs(arch);
    if (!inputs.ok()) return Fail(std::string(inputs.status().message()));
    auto session = exporting::ExportSession::Create(export_test::TestRegistry(), *inputs);
    if (!session.ok()) return Fail(std::string(session.status().message()));
    for (const char* method : {"tracing", "scripting"}) {
      exporting::ExportTarget target{"torchscript", method, {},
                                     out + "/" + arch + "_" + method};
      auto outcome = (*session)->Export(target);
      if (!outcome.ok()) return Fail(std::string(outcome.status().message()));
      if (!outcome->status.ok()) return Fail(outcome->Summary());
      std::cout << outcome->Summary() << "\n";
    }
    // The C++ outputs of the traced artifact for the batch [256x320, 200x296].
    auto artifact =
        exporting::LoadedArtifact::Load(export_test::TestRegistry(), out + "/" + arch + "_tracing");
    if (!artifact.ok()) return Fail(std::string(artifact.status().message()));
    std::vector<ImageInput> batch;
    for (const char* key : {"256x320", "200x296"}) {
      auto path = testing::FixturePath(arch, std::string("input_") + key + ".png");
      if (!path.ok()) return Fail(std::string(path.status().message()));
      auto image = io::ReadImage(*path, "BGR");
      if (!image.ok()) return Fail(std::string(image.status().message()));
      batch.push_back({image->to(at::kFloat), 0, 0});
    }
    auto flat_inputs = (*artifact)->MakeInputs(batch);
    if (!flat_inputs.ok()) return Fail(std::string(flat_inputs.status().message()));
    auto outputs = (*artifact)->session().Run(*flat_inputs);
    if (!outputs.ok()) return Fail(std::string(outputs.status().message()));
    if (auto s = WritePickle(out + "/" + arch + ".inputs.pt", *flat_inputs); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    if (auto s = WritePickle(out + "/" + arch + ".expected.pt", *outputs); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }
  return 0;
}
