// A pickle virtual machine that never executes anything.
//
// Unpickle() interprets protocols 0-5 (every opcode CPython's pickle defines, except out-of-band
// buffers) and builds an object tree (pickle_object.h). Classes and functions go through the
// allow-list in pickle_globals.h: known ones are interpreted, code-execution globals are refused,
// anything else becomes an inert placeholder. Torch tensors come out as descriptors (storage key,
// offset, sizes, strides); turning them into at::Tensors is tensor_builder.h's job, so this layer
// needs no torch and can be fuzzed on its own.
//
// Hostile input: every declared length is checked against the remaining bytes before anything is
// allocated, the value stack, the mark stack, the memo, container nesting and the total memory of
// the tree are bounded, and errors are one line naming the source, the byte offset and the opcode.
#ifndef D2X_CORE_CHECKPOINT_PICKLE_VM_H_
#define D2X_CORE_CHECKPOINT_PICKLE_VM_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/checkpoint/pickle_object.h"

namespace d2x::checkpoint::pickle {

struct UnpickleOptions {
  // Names the input in error messages (e.g. "model.pth:archive/data.pkl").
  std::string source = "<pickle>";
  // Interpret BINPERSID ('storage', type, key, location, numel) as torch.load does for the zip
  // format. Without it a persistent id is an error, as with pickle.load.
  bool torch_persistent_ids = false;
  size_t max_stack = size_t{1} << 20;  // values on the stack
  size_t max_marks = 4096;             // nested MARKs
  int max_depth = 1000;                // container nesting (Python's own recursion limit)
  size_t max_memo = size_t{1} << 22;   // memo entries
  // Bytes of objects the tree may hold; 0 means 64 MiB + 2 x the input size.
  size_t memory_budget = 0;
};

// The result: owns the objects. The tree views the input bytes, which must outlive it.
class Unpickled {
 public:
  const Object& root() const { return *root_; }
  // "module.name" of globals that were not allow-listed and became placeholders (first 64).
  const std::vector<std::string>& placeholders() const { return placeholders_; }
  size_t object_count() const { return arena_->size(); }
  size_t memory_used() const { return arena_->used(); }

 private:
  friend class Machine;
  std::unique_ptr<ObjectArena> arena_;
  const Object* root_ = nullptr;
  std::vector<std::string> placeholders_;
};

absl::StatusOr<std::unique_ptr<Unpickled>> Unpickle(absl::string_view data,
                                                    const UnpickleOptions& options);

}  // namespace d2x::checkpoint::pickle

#endif  // D2X_CORE_CHECKPOINT_PICKLE_VM_H_
