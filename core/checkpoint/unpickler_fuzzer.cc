// libFuzzer target for the torch-free unpickler core (pickle_vm, pickle_globals, pickle_numpy,
// pickle_object, pickle_opcodes, pickle_text). Built and run by run_fuzzer.sh (clang,
// -fsanitize=fuzzer,address,undefined).
//
// Each input is unpickled twice (as a plain pickle and as a torch zip's data.pkl, which enables
// persistent ids), and a successful result is walked the way the checkpoint layer uses it: dict
// lookups, descriptions, and copying every array's bytes out (which decodes latin-1 text).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/checkpoint/pickle_object.h"
#include "core/checkpoint/pickle_vm.h"

namespace {

using d2x::checkpoint::pickle::Kind;
using d2x::checkpoint::pickle::Object;

void Walk(const Object& obj, int depth, size_t* budget) {
  if (depth > 6 || *budget == 0) return;
  --*budget;
  (void)d2x::checkpoint::pickle::Describe(obj, 2);
  switch (obj.kind) {
    case Kind::kNdArray: {
      const auto& a = obj.ndarray();
      if (a.data != nullptr) {
        absl::StatusOr<size_t> n = d2x::checkpoint::pickle::ByteSize(*a.data);
        if (n.ok() && *n <= (size_t{1} << 20)) {
          std::vector<char> buf(*n);
          (void)d2x::checkpoint::pickle::CopyBytes(*a.data, buf.data(), buf.size());
        }
      }
      break;
    }
    case Kind::kTensor:
      if (obj.tensor().storage != nullptr) (void)obj.tensor().storage->storage().key.size();
      break;
    case Kind::kStr:
      (void)d2x::checkpoint::pickle::TextOf(obj);
      (void)d2x::checkpoint::pickle::ByteSize(obj);
      break;
    case Kind::kDict:
      (void)d2x::checkpoint::pickle::DictGet(obj, "model");
      if (obj.state != nullptr) Walk(*obj.state, depth + 1, budget);
      [[fallthrough]];
    default:
      for (const Object* item : obj.items) Walk(*item, depth + 1, budget);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  for (bool torch : {false, true}) {
    d2x::checkpoint::pickle::UnpickleOptions options;
    options.source = "fuzz";
    options.torch_persistent_ids = torch;
    options.memory_budget = size_t{64} << 20;
    auto result = d2x::checkpoint::pickle::Unpickle(input, options);
    if (!result.ok()) {
      // Errors are one line.
      if (std::string(result.status().message()).find('\n') != std::string::npos) __builtin_trap();
      continue;
    }
    size_t budget = 10000;
    Walk((*result)->root(), 0, &budget);
  }
  return 0;
}
