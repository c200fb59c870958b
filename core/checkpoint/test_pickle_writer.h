// Test helper: emits pickle bytes opcode by opcode, so tests (and the fuzzer's seed corpus) craft
// their inputs in C++ — well-formed checkpoints as torch.save / numpy would write them, and
// malformed or hostile ones. Torch-free, header-only.
#ifndef D2X_CORE_CHECKPOINT_TEST_PICKLE_WRITER_H_
#define D2X_CORE_CHECKPOINT_TEST_PICKLE_WRITER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace d2x::checkpoint::testing {

class PickleWriter {
 public:
  // Raw bytes (an opcode, or anything).
  PickleWriter& Raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  PickleWriter& Op(unsigned char op) {
    out_.push_back(static_cast<char>(op));
    return *this;
  }
  PickleWriter& Proto(int version) { return Op(0x80).Op(static_cast<unsigned char>(version)); }
  PickleWriter& Stop() { return Op('.'); }
  PickleWriter& Mark() { return Op('('); }
  PickleWriter& None() { return Op('N'); }
  PickleWriter& Bool(bool v) { return Op(v ? 0x88 : 0x89); }
  PickleWriter& EmptyDict() { return Op('}'); }
  PickleWriter& EmptyList() { return Op(']'); }
  PickleWriter& EmptyTuple() { return Op(')'); }
  PickleWriter& Tuple() { return Op('t'); }
  PickleWriter& TupleN(int n) { return Op(static_cast<unsigned char>(0x84 + n)); }  // 1..3
  PickleWriter& SetItem() { return Op('s'); }
  PickleWriter& SetItems() { return Op('u'); }
  PickleWriter& Append() { return Op('a'); }
  PickleWriter& Appends() { return Op('e'); }
  PickleWriter& Reduce() { return Op('R'); }
  PickleWriter& Build() { return Op('b'); }
  PickleWriter& BinPersId() { return Op('Q'); }
  PickleWriter& BinPut(int index) { return Op('q').Op(static_cast<unsigned char>(index)); }
  PickleWriter& BinGet(int index) { return Op('h').Op(static_cast<unsigned char>(index)); }

  PickleWriter& Int(int64_t v) {
    if (v >= 0 && v < 256) return Op('K').Op(static_cast<unsigned char>(v));
    if (v >= 0 && v < 65536) return Op('M').Le(static_cast<uint64_t>(v), 2);
    if (v >= INT32_MIN && v <= INT32_MAX) return Op('J').Le(static_cast<uint32_t>(v), 4);
    return Op(0x8a).Op(8).Le(static_cast<uint64_t>(v), 8);
  }
  PickleWriter& Float(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    Op('G');
    for (int k = 7; k >= 0; --k) Op(static_cast<unsigned char>(bits >> (8 * k)));
    return *this;
  }
  // BINUNICODE (UTF-8 text).
  PickleWriter& Str(const std::string& utf8) {
    return Op('X').Le(utf8.size(), 4).Raw(utf8);
  }
  // BINBYTES.
  PickleWriter& Bytes(const std::string& bytes) {
    return Op('B').Le(bytes.size(), 4).Raw(bytes);
  }
  // BINSTRING (a Python 2 str).
  PickleWriter& Py2Str(const std::string& bytes) {
    return Op('T').Le(bytes.size(), 4).Raw(bytes);
  }
  // GLOBAL "module\nname\n".
  PickleWriter& Global(const std::string& module, const std::string& name) {
    return Op('c').Raw(module + "\n" + name + "\n");
  }
  // Python 3, protocol 2 bytes: _codecs.encode(<bytes as latin-1 text>, "latin1").
  PickleWriter& Latin1Bytes(const std::string& bytes) {
    std::string utf8;
    for (unsigned char c : bytes) {
      if (c < 0x80) {
        utf8.push_back(static_cast<char>(c));
      } else {
        utf8.push_back(static_cast<char>(0xC0 | (c >> 6)));
        utf8.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      }
    }
    return Global("_codecs", "encode").Str(utf8).Str("latin1").TupleN(2).Reduce();
  }
  PickleWriter& IntTuple(const std::vector<int64_t>& values) {
    Mark();
    for (int64_t v : values) Int(v);
    return Tuple();
  }

  // torch._utils._rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size,
  // stride, False, OrderedDict()) as torch.save writes it.
  PickleWriter& TorchTensor(const std::string& storage_type, const std::string& key, int64_t numel,
                            int64_t offset, const std::vector<int64_t>& sizes,
                            const std::vector<int64_t>& strides) {
    Global("torch._utils", "_rebuild_tensor_v2").Mark();
    Mark().Str("storage").Global("torch", storage_type).Str(key).Str("cpu").Int(numel).Tuple();
    BinPersId().Int(offset).IntTuple(sizes).IntTuple(strides).Bool(false);
    Global("collections", "OrderedDict").EmptyTuple().Reduce();
    return Tuple().Reduce();
  }

  // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') + BUILD (1, shape, dtype, fortran,
  // data) as numpy pickles an array; data as protocol-2 latin-1 text, BINBYTES or a py2 str.
  enum class Data { kLatin1Text, kBytes, kPy2Str };
  PickleWriter& NumpyArray(const std::string& dtype, const std::vector<int64_t>& shape,
                           const std::string& data, Data how = Data::kLatin1Text,
                           bool fortran = false, char byteorder = '<') {
    Global("numpy.core.multiarray", "_reconstruct").Global("numpy", "ndarray").Int(0).TupleN(1);
    Bytes("b").TupleN(3).Reduce();
    Mark().Int(1).IntTuple(shape);
    Global("numpy", "dtype").Str(dtype).Bool(false).Bool(true).TupleN(3).Reduce();
    Mark().Int(3).Str(std::string(1, byteorder)).None().None().None().Int(-1).Int(-1).Int(0);
    Tuple().Build();
    Bool(fortran);
    if (how == Data::kLatin1Text) Latin1Bytes(data);
    if (how == Data::kBytes) Bytes(data);
    if (how == Data::kPy2Str) Py2Str(data);
    return Tuple().Build();
  }

  const std::string& bytes() const { return out_; }

 private:
  PickleWriter& Le(uint64_t v, int n) {
    for (int k = 0; k < n; ++k) Op(static_cast<unsigned char>(v >> (8 * k)));
    return *this;
  }
  std::string out_;
};

}  // namespace d2x::checkpoint::testing

#endif  // D2X_CORE_CHECKPOINT_TEST_PICKLE_WRITER_H_
