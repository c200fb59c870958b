#include "core/checkpoint/pickle_vm.h"

#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/checkpoint/pickle_globals.h"
#include "core/checkpoint/pickle_opcodes.h"
#include "core/checkpoint/pickle_text.h"

namespace d2x::checkpoint::pickle {
// One run of the machine over `data`.
class Machine {
 public:
  Machine(absl::string_view data, const UnpickleOptions& options)
      : data_(data), options_(options) {}

  absl::StatusOr<std::unique_ptr<Unpickled>> Run();

 private:
  // Executes the opcode at pos_ - 1. Sets done_ at STOP.
  absl::Status Step(unsigned char op);

  size_t remaining() const { return data_.size() - pos_; }
  absl::Status Truncated(size_t need) const {
    return absl::DataLossError(absl::StrCat("truncated input: needs ", need, " more bytes, ",
                                            remaining(), " remain"));
  }
  // Reads a fixed-size little-endian unsigned integer of `n` bytes.
  absl::StatusOr<uint64_t> ReadUInt(int n);
  // Reads `n` bytes (declared by the input) as a view.
  absl::StatusOr<absl::string_view> ReadBytes(uint64_t n);
  // Reads up to and excluding the next '\n'.
  absl::StatusOr<absl::string_view> ReadLine();

  absl::Status Push(Object* obj);
  absl::StatusOr<Object*> Pop();
  absl::StatusOr<Object*> Top();
  size_t Fence() const { return marks_.empty() ? 0 : marks_.back(); }
  // Pops the topmost mark and returns the values above it.
  absl::StatusOr<std::vector<Object*>> PopMark();

  absl::StatusOr<Object*> New(Kind kind) { return arena_->New(kind); }
  absl::Status PushNew(Kind kind, absl::string_view data, Encoding enc);
  absl::Status PushOwnedStr(Kind kind, std::string text, Encoding enc);
  absl::Status PushInt(int64_t v);
  absl::Status PushContainer(Kind kind, std::vector<Object*> items);
  absl::Status PushLong(absl::string_view le_bytes);
  absl::Status PushDecimal(absl::string_view text, bool is_int_opcode);

  absl::Status MemoPut(uint64_t index);
  absl::Status MemoGet(uint64_t index);

  absl::Status Append(Object* target, const std::vector<Object*>& items);
  absl::Status SetItems(Object* target, const std::vector<Object*>& items);

  absl::string_view data_;
  const UnpickleOptions& options_;
  size_t pos_ = 0;
  bool done_ = false;
  std::unique_ptr<ObjectArena> arena_;
  GlobalsContext ctx_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  absl::flat_hash_map<uint32_t, Object*> memo_;
  Object* result_ = nullptr;
};

absl::StatusOr<std::unique_ptr<Unpickled>> Machine::Run() {
  size_t budget = options_.memory_budget;
  if (budget == 0) budget = (size_t{64} << 20) + 2 * data_.size();
  arena_ = std::make_unique<ObjectArena>(budget);
  ctx_.arena = arena_.get();
  ctx_.max_depth = options_.max_depth;
  while (!done_) {
    if (pos_ >= data_.size()) {
      return absl::DataLossError(absl::StrCat(options_.source, ": pickle offset ", pos_,
                                              ": truncated input: ends without STOP"));
    }
    const size_t at = pos_;
    const unsigned char op = static_cast<unsigned char>(data_[pos_++]);
    absl::Status s = Step(op);
    if (!s.ok()) {
      return absl::Status(s.code(), OneLine(absl::StrCat(options_.source, ": pickle offset ", at,
                                                         " (opcode ", OpcodeName(op),
                                                         "): ", s.message())));
    }
  }
  auto out = std::make_unique<Unpickled>();
  out->root_ = result_;
  out->placeholders_ = std::move(ctx_.placeholders);
  out->arena_ = std::move(arena_);
  return out;
}

absl::StatusOr<uint64_t> Machine::ReadUInt(int n) {
  if (remaining() < static_cast<size_t>(n)) return Truncated(n);
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) {
    v |= uint64_t{static_cast<unsigned char>(data_[pos_ + k])} << (8 * k);
  }
  pos_ += n;
  return v;
}

absl::StatusOr<absl::string_view> Machine::ReadBytes(uint64_t n) {
  if (n > remaining()) {
    return absl::DataLossError(absl::StrCat("declared length ", n, " exceeds the ", remaining(),
                                            " bytes that remain"));
  }
  absl::string_view out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

absl::StatusOr<absl::string_view> Machine::ReadLine() {
  const size_t end = data_.find('\n', pos_);
  if (end == absl::string_view::npos) {
    return absl::DataLossError("truncated input: line argument without a newline");
  }
  absl::string_view line = data_.substr(pos_, end - pos_);
  pos_ = end + 1;
  return line;
}

absl::Status Machine::Push(Object* obj) {
  if (stack_.size() >= options_.max_stack) {
    return absl::ResourceExhaustedError(
        absl::StrCat("value stack deeper than ", options_.max_stack, " (hostile input?)"));
  }
  stack_.push_back(obj);
  return absl::OkStatus();
}

absl::StatusOr<Object*> Machine::Pop() {
  if (stack_.size() <= Fence()) return absl::InvalidArgumentError("unpickling stack underflow");
  Object* obj = stack_.back();
  stack_.pop_back();
  return obj;
}

absl::StatusOr<Object*> Machine::Top() {
  if (stack_.size() <= Fence()) return absl::InvalidArgumentError("unpickling stack underflow");
  return stack_.back();
}

absl::StatusOr<std::vector<Object*>> Machine::PopMark() {
  if (marks_.empty()) return absl::InvalidArgumentError("could not find MARK");
  const size_t mark = marks_.back();
  marks_.pop_back();
  std::vector<Object*> items(stack_.begin() + mark, stack_.end());
  stack_.resize(mark);
  return items;
}

absl::Status Machine::PushNew(Kind kind, absl::string_view data, Encoding enc) {
  absl::StatusOr<Object*> obj = New(kind);
  if (!obj.ok()) return obj.status();
  (*obj)->data = data;
  (*obj)->enc = enc;
  return Push(*obj);
}

absl::Status Machine::PushOwnedStr(Kind kind, std::string text, Encoding enc) {
  if (absl::Status s = arena_->Charge(text.size()); !s.ok()) return s;
  absl::StatusOr<Object*> obj = New(kind);
  if (!obj.ok()) return obj.status();
  (*obj)->owned = std::move(text);
  (*obj)->data = (*obj)->owned;
  (*obj)->enc = enc;
  (*obj)->i = -1;  // latin-1 length of UTF-8 text: computed on demand
  return Push(*obj);
}

absl::Status Machine::PushInt(int64_t v) {
  absl::StatusOr<Object*> obj = New(Kind::kInt);
  if (!obj.ok()) return obj.status();
  (*obj)->i = v;
  return Push(*obj);
}

absl::Status Machine::PushContainer(Kind kind, std::vector<Object*> items) {
  if (absl::Status s = arena_->Charge(items.size() * sizeof(Object*)); !s.ok()) return s;
  absl::StatusOr<Object*> obj = New(kind);
  if (!obj.ok()) return obj.status();
  for (const Object* item : items) {
    if (absl::Status s = Adopt(ctx_, *obj, item); !s.ok()) return s;
  }
  (*obj)->items = std::move(items);
  return Push(*obj);
}

absl::Status Machine::PushLong(absl::string_view le_bytes) {
  int64_t v;
  if (DecodeLittleEndianInt(le_bytes, &v)) return PushInt(v);
  return PushNew(Kind::kBigInt, le_bytes, Encoding::kLatin1);
}

absl::Status Machine::PushDecimal(absl::string_view text, bool is_int_opcode) {
  if (is_int_opcode && text == "00") return Push(arena_->boolean(false));
  if (is_int_opcode && text == "01") return Push(arena_->boolean(true));
  if (!is_int_opcode && !text.empty() && text.back() == 'L') text.remove_suffix(1);
  int64_t v = 0;
  bool overflow = false;
  if (absl::Status s = ParseDecimal(text, &v, &overflow); !s.ok()) return s;
  if (!overflow) return PushInt(v);
  return PushOwnedStr(Kind::kBigInt, std::string(text), Encoding::kLatin1);
}

absl::Status Machine::MemoPut(uint64_t index) {
  if (index > UINT32_MAX) return absl::InvalidArgumentError("memo index out of range");
  absl::StatusOr<Object*> top = Top();
  if (!top.ok()) return top.status();
  if (memo_.size() >= options_.max_memo && !memo_.contains(static_cast<uint32_t>(index))) {
    return absl::ResourceExhaustedError(
        absl::StrCat("more than ", options_.max_memo, " memo entries (hostile input?)"));
  }
  if (absl::Status s = arena_->Charge(32); !s.ok()) return s;
  memo_[static_cast<uint32_t>(index)] = *top;
  return absl::OkStatus();
}

absl::Status Machine::MemoGet(uint64_t index) {
  auto it = index <= UINT32_MAX ? memo_.find(static_cast<uint32_t>(index)) : memo_.end();
  if (it == memo_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("memo key ", index, " not found"));
  }
  return Push(it->second);
}

absl::Status Machine::Append(Object* target, const std::vector<Object*>& items) {
  if (target->is(Kind::kList) || target->is(Kind::kOpaque)) {
    if (absl::Status s = arena_->Charge(items.size() * sizeof(Object*)); !s.ok()) return s;
    for (Object* item : items) {
      target->items.push_back(item);
      if (absl::Status s = Adopt(ctx_, target, item); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cannot append to a ", KindName(target->kind)));
}

absl::Status Machine::SetItems(Object* target, const std::vector<Object*>& items) {
  if (items.size() % 2 != 0) return absl::InvalidArgumentError("odd number of items for SETITEMS");
  if (target->is(Kind::kOpaque)) return Append(target, items);  // inert: kept, never used
  if (!target->is(Kind::kDict)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot set items of a ", KindName(target->kind)));
  }
  for (size_t k = 0; k < items.size(); k += 2) {
    if (absl::Status s = DictSet(ctx_, target, items[k], items[k + 1]); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Machine::Step(unsigned char op) {
  switch (op) {
    case '(':
      if (marks_.size() >= options_.max_marks) {
        return absl::ResourceExhaustedError(
            absl::StrCat("more than ", options_.max_marks, " nested MARKs (recursion bomb?)"));
      }
      marks_.push_back(stack_.size());
      return absl::OkStatus();
    case '.': {
      absl::StatusOr<Object*> v = Pop();
      if (!v.ok()) return v.status();
      result_ = *v;
      done_ = true;
      return absl::OkStatus();
    }
    case '0':
      if (stack_.size() > Fence()) {
        stack_.pop_back();
        return absl::OkStatus();
      }
      if (!marks_.empty()) {
        marks_.pop_back();
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError("unpickling stack underflow");
    case '1': return PopMark().status();
    case '2': {
      absl::StatusOr<Object*> top = Top();
      if (!top.ok()) return top.status();
      return Push(*top);
    }
    case 'F': {
      absl::StatusOr<absl::string_view> line = ReadLine();
      if (!line.ok()) return line.status();
      double v;
      if (!absl::SimpleAtod(*line, &v)) {
        return absl::InvalidArgumentError("invalid FLOAT literal");
      }
      absl::StatusOr<Object*> obj = New(Kind::kFloat);
      if (!obj.ok()) return obj.status();
      (*obj)->f = v;
      return Push(*obj);
    }
    case 'I':
    case 'L': {
      absl::StatusOr<absl::string_view> line = ReadLine();
      if (!line.ok()) return line.status();
      return PushDecimal(*line, op == 'I');
    }
    case 'J': {
      absl::StatusOr<uint64_t> v = ReadUInt(4);
      if (!v.ok()) return v.status();
      return PushInt(static_cast<int32_t>(static_cast<uint32_t>(*v)));
    }
    case 'K':
    case 'M': {
      absl::StatusOr<uint64_t> v = ReadUInt(op == 'K' ? 1 : 2);
      if (!v.ok()) return v.status();
      return PushInt(static_cast<int64_t>(*v));
    }
    case 0x8a:
    case 0x8b: {
      absl::StatusOr<uint64_t> n = ReadUInt(op == 0x8a ? 1 : 4);
      if (!n.ok()) return n.status();
      if (op == 0x8b && static_cast<int32_t>(static_cast<uint32_t>(*n)) < 0) {
        return absl::InvalidArgumentError("LONG4 with a negative byte count");
      }
      absl::StatusOr<absl::string_view> bytes = ReadBytes(*n);
      if (!bytes.ok()) return bytes.status();
      return PushLong(*bytes);
    }
    case 'G': {
      absl::StatusOr<absl::string_view> bytes = ReadBytes(8);
      if (!bytes.ok()) return bytes.status();
      uint64_t bits = 0;
      for (char c : *bytes) bits = (bits << 8) | static_cast<unsigned char>(c);
      absl::StatusOr<Object*> obj = New(Kind::kFloat);
      if (!obj.ok()) return obj.status();
      std::memcpy(&(*obj)->f, &bits, 8);
      return Push(*obj);
    }
    case 'N': return Push(arena_->none());
    case 0x88: return Push(arena_->boolean(true));
    case 0x89: return Push(arena_->boolean(false));
    case 'S': {
      absl::StatusOr<absl::string_view> line = ReadLine();
      if (!line.ok()) return line.status();
      absl::StatusOr<std::string> raw = DecodeStringLiteral(*line);
      if (!raw.ok()) return raw.status();
      return PushOwnedStr(Kind::kStr, std::move(*raw), Encoding::kLatin1);
    }
    case 'V': {
      absl::StatusOr<absl::string_view> line = ReadLine();
      if (!line.ok()) return line.status();
      absl::StatusOr<std::string> text = DecodeRawUnicodeEscape(*line);
      if (!text.ok()) return text.status();
      return PushOwnedStr(Kind::kStr, std::move(*text), Encoding::kUtf8);
    }
    case 'T':
    case 'U':
    case 'B':
    case 'C':
    case 0x8e:
    case 0x96:
    case 'X':
    case 0x8c:
    case 0x8d: {
      const int width = (op == 'U' || op == 'C' || op == 0x8c)     ? 1
                        : (op == 0x8e || op == 0x96 || op == 0x8d) ? 8
                                                                   : 4;
      absl::StatusOr<uint64_t> n = ReadUInt(width);
      if (!n.ok()) return n.status();
      if (op == 'T' && static_cast<int32_t>(static_cast<uint32_t>(*n)) < 0) {
        return absl::InvalidArgumentError("BINSTRING with a negative length");
      }
      absl::StatusOr<absl::string_view> bytes = ReadBytes(*n);
      if (!bytes.ok()) return bytes.status();
      if (op == 'T' || op == 'U') return PushNew(Kind::kStr, *bytes, Encoding::kLatin1);
      if (op == 'X' || op == 0x8c || op == 0x8d) {
        size_t latin1_length = 0;
        int64_t cached = -1;
        if (ScanLatin1Utf8(*bytes, &latin1_length)) {
          cached = static_cast<int64_t>(latin1_length);
        } else if (absl::Status s = ValidateUtf8(*bytes); !s.ok()) {
          return s;
        }
        if (absl::Status s = PushNew(Kind::kStr, *bytes, Encoding::kUtf8); !s.ok()) return s;
        stack_.back()->i = cached;
        return absl::OkStatus();
      }
      return PushNew(Kind::kBytes, *bytes, Encoding::kLatin1);
    }
    case ']': return PushContainer(Kind::kList, {});
    case ')': return PushContainer(Kind::kTuple, {});
    case 0x8f: return PushContainer(Kind::kSet, {});
    case '}': {
      absl::StatusOr<Object*> obj = New(Kind::kDict);
      if (!obj.ok()) return obj.status();
      return Push(*obj);
    }
    case 'l':
    case 't':
    case 0x91: {
      absl::StatusOr<std::vector<Object*>> items = PopMark();
      if (!items.ok()) return items.status();
      const Kind kind = op == 'l' ? Kind::kList : op == 't' ? Kind::kTuple : Kind::kFrozenSet;
      return PushContainer(kind, std::move(*items));
    }
    case 0x85:
    case 0x86:
    case 0x87: {
      const size_t n = op - 0x84;
      if (stack_.size() < Fence() + n) {
        return absl::InvalidArgumentError("unpickling stack underflow");
      }
      std::vector<Object*> items(stack_.end() - n, stack_.end());
      stack_.resize(stack_.size() - n);
      return PushContainer(Kind::kTuple, std::move(items));
    }
    case 'd': {
      absl::StatusOr<std::vector<Object*>> items = PopMark();
      if (!items.ok()) return items.status();
      absl::StatusOr<Object*> dict = New(Kind::kDict);
      if (!dict.ok()) return dict.status();
      if (absl::Status s = SetItems(*dict, *items); !s.ok()) return s;
      return Push(*dict);
    }
    case 'a': {
      absl::StatusOr<Object*> value = Pop();
      if (!value.ok()) return value.status();
      absl::StatusOr<Object*> target = Top();
      if (!target.ok()) return target.status();
      return Append(*target, {*value});
    }
    case 's': {
      absl::StatusOr<Object*> value = Pop();
      if (!value.ok()) return value.status();
      absl::StatusOr<Object*> key = Pop();
      if (!key.ok()) return key.status();
      absl::StatusOr<Object*> target = Top();
      if (!target.ok()) return target.status();
      return SetItems(*target, {*key, *value});
    }
    case 'e':
    case 'u':
    case 0x90: {
      absl::StatusOr<std::vector<Object*>> items = PopMark();
      if (!items.ok()) return items.status();
      absl::StatusOr<Object*> target = Top();
      if (!target.ok()) return target.status();
      if (op == 'u') return SetItems(*target, *items);
      if (op == 0x90) {
        if (!(*target)->is(Kind::kSet) && !(*target)->is(Kind::kOpaque)) {
          return absl::InvalidArgumentError(
              absl::StrCat("cannot add items to a ", KindName((*target)->kind)));
        }
        if (absl::Status s = arena_->Charge(items->size() * sizeof(Object*)); !s.ok()) return s;
        for (Object* item : *items) {
          (*target)->items.push_back(item);
          if (absl::Status s = Adopt(ctx_, *target, item); !s.ok()) return s;
        }
        return absl::OkStatus();
      }
      return Append(*target, *items);
    }
    case 'g':
    case 'p': {
      absl::StatusOr<absl::string_view> line = ReadLine();
      if (!line.ok()) return line.status();
      int64_t index = 0;
      bool overflow = false;
      if (absl::Status s = ParseDecimal(*line, &index, &overflow); !s.ok()) return s;
      if (overflow || index < 0) return absl::InvalidArgumentError("memo index out of range");
      return op == 'g' ? MemoGet(index) : MemoPut(index);
    }
    case 'h':
    case 'j':
    case 'q':
    case 'r': {
      absl::StatusOr<uint64_t> index = ReadUInt(op == 'h' || op == 'q' ? 1 : 4);
      if (!index.ok()) return index.status();
      return op == 'h' || op == 'j' ? MemoGet(*index) : MemoPut(*index);
    }
    case 0x94: return MemoPut(memo_.size());
    case 'c':
    case 'i': {
      absl::StatusOr<absl::string_view> module = ReadLine();
      if (!module.ok()) return module.status();
      absl::StatusOr<absl::string_view> name = ReadLine();
      if (!name.ok()) return name.status();
      if (absl::Status s = ValidateUtf8(*module); !s.ok()) return s;
      if (absl::Status s = ValidateUtf8(*name); !s.ok()) return s;
      absl::StatusOr<Object*> global = ResolveGlobal(ctx_, *module, *name);
      if (!global.ok()) return global.status();
      if (op == 'c') return Push(*global);
      absl::StatusOr<std::vector<Object*>> args = PopMark();
      if (!args.ok()) return args.status();
      absl::StatusOr<Object*> obj = Instantiate(ctx_, *global, nullptr);
      if (!obj.ok()) return obj.status();
      return Push(*obj);
    }
    case 0x93: {
      absl::StatusOr<Object*> name = Pop();
      if (!name.ok()) return name.status();
      absl::StatusOr<Object*> module = Pop();
      if (!module.ok()) return module.status();
      if (!(*module)->is(Kind::kStr) || !(*name)->is(Kind::kStr)) {
        return absl::InvalidArgumentError("STACK_GLOBAL requires str module and name");
      }
      absl::StatusOr<Object*> global = ResolveGlobal(ctx_, TextOf(**module), TextOf(**name));
      if (!global.ok()) return global.status();
      return Push(*global);
    }
    case 'R': {
      absl::StatusOr<Object*> args = Pop();
      if (!args.ok()) return args.status();
      absl::StatusOr<Object*> callable = Pop();
      if (!callable.ok()) return callable.status();
      absl::StatusOr<Object*> obj = CallGlobal(ctx_, *callable, *args);
      if (!obj.ok()) return obj.status();
      return Push(*obj);
    }
    case 0x81:
    case 0x92: {
      if (op == 0x92) {
        absl::StatusOr<Object*> kwargs = Pop();
        if (!kwargs.ok()) return kwargs.status();
      }
      absl::StatusOr<Object*> args = Pop();
      if (!args.ok()) return args.status();
      absl::StatusOr<Object*> cls = Pop();
      if (!cls.ok()) return cls.status();
      if (!(*args)->is(Kind::kTuple)) {
        return absl::InvalidArgumentError("NEWOBJ arguments must be a tuple");
      }
      absl::StatusOr<Object*> obj = Instantiate(ctx_, *cls, *args);
      if (!obj.ok()) return obj.status();
      return Push(*obj);
    }
    case 'o': {
      absl::StatusOr<std::vector<Object*>> items = PopMark();
      if (!items.ok()) return items.status();
      if (items->empty()) return absl::InvalidArgumentError("OBJ without a class");
      absl::StatusOr<Object*> obj = Instantiate(ctx_, (*items)[0], nullptr);
      if (!obj.ok()) return obj.status();
      return Push(*obj);
    }
    case 'b': {
      absl::StatusOr<Object*> state = Pop();
      if (!state.ok()) return state.status();
      absl::StatusOr<Object*> obj = Top();
      if (!obj.ok()) return obj.status();
      return Build(ctx_, *obj, *state);
    }
    case 'P':
    case 'Q': {
      Object* pid = nullptr;
      if (op == 'P') {
        absl::StatusOr<absl::string_view> line = ReadLine();
        if (!line.ok()) return line.status();
        if (absl::Status s = PushNew(Kind::kStr, *line, Encoding::kLatin1); !s.ok()) return s;
      }
      absl::StatusOr<Object*> popped = Pop();
      if (!popped.ok()) return popped.status();
      pid = *popped;
      if (!options_.torch_persistent_ids) {
        return absl::InvalidArgumentError(
            "persistent id in a plain pickle (no persistent_load is defined for it)");
      }
      absl::StatusOr<Object*> storage = LoadPersistent(ctx_, pid);
      if (!storage.ok()) return storage.status();
      return Push(*storage);
    }
    case 0x80: {
      absl::StatusOr<uint64_t> proto = ReadUInt(1);
      if (!proto.ok()) return proto.status();
      if (*proto > 5) {
        return absl::InvalidArgumentError(absl::StrCat("unsupported pickle protocol: ", *proto));
      }
      return absl::OkStatus();
    }
    case 0x95: {
      absl::StatusOr<uint64_t> n = ReadUInt(8);
      if (!n.ok()) return n.status();
      if (*n > remaining()) {
        return absl::DataLossError(absl::StrCat("FRAME declares ", *n, " bytes but only ",
                                                remaining(), " remain"));
      }
      return absl::OkStatus();  // frames only group opcodes; we read contiguously anyway
    }
    case 0x82:
    case 0x83:
    case 0x84:
      return absl::InvalidArgumentError("extension codes (copyreg registry) are not supported");
    case 0x97:
      return absl::InvalidArgumentError("out-of-band buffers (pickle protocol 5) are not supported");
    case 0x98: return Top().status();
    default:
      return absl::InvalidArgumentError(
          absl::StrFormat("invalid opcode 0x%02x (not a pickle, or corrupt)", op));
  }
}

absl::StatusOr<std::unique_ptr<Unpickled>> Unpickle(absl::string_view data,
                                                    const UnpickleOptions& options) {
  Machine machine(data, options);
  return machine.Run();
}

}  // namespace d2x::checkpoint::pickle
