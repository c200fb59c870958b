// Text-level helpers of the pickle VM: UTF-8 / latin-1 conversion, Python literal decoding for the
// protocol-0 text opcodes, and integer decoding. Torch-free.
#ifndef D2X_CORE_CHECKPOINT_PICKLE_TEXT_H_
#define D2X_CORE_CHECKPOINT_PICKLE_TEXT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace d2x::checkpoint::pickle {

// True if `s` is valid UTF-8 whose code points are all <= 0xFF (the form _codecs.encode(x,
// "latin1") arguments take in protocol-2 pickles of bytes); sets the number of code points. Fast
// (8 bytes per step).
bool ScanLatin1Utf8(absl::string_view s, size_t* latin1_length);

// Checks that `s` is UTF-8 as CPython's pickle accepts it ("surrogatepass": encoded surrogates are
// allowed). Error names the byte offset of the first bad sequence.
absl::Status ValidateUtf8(absl::string_view s);

// For valid UTF-8 `s`: the number of code points, or an error if one exceeds 0xFF (then the text
// cannot be encoded as latin-1).
absl::StatusOr<size_t> Latin1Length(absl::string_view s);
// For valid UTF-8 `s` whose code points are all <= 0xFF: writes them as bytes to `dst`, which
// holds exactly out_len == Latin1Length(s) bytes. Uses SSSE3 where the CPU has it.
void Utf8ToLatin1(absl::string_view s, char* dst, size_t out_len);
// Latin-1 bytes to UTF-8 text.
std::string Latin1ToUtf8(absl::string_view s);
// Appends code point `cp` as (surrogate-passing) UTF-8.
void AppendUtf8(uint32_t cp, std::string* out);

// The argument of protocol 0's STRING opcode (a quoted Python 2 str repr, without the newline)
// decoded like codecs.escape_decode: returns the raw bytes.
absl::StatusOr<std::string> DecodeStringLiteral(absl::string_view quoted);
// The argument of UNICODE (raw-unicode-escape) decoded to UTF-8.
absl::StatusOr<std::string> DecodeRawUnicodeEscape(absl::string_view s);

// `s` with newlines and other control characters escaped, so that an error message quoting
// file content stays on one line.
std::string OneLine(absl::string_view s);

// Parses a decimal integer as Python's int() does for pickle text arguments (optional sign,
// surrounding whitespace; a trailing 'L' is removed by the caller). `overflow` is set and `*out`
// left unspecified if it does not fit in int64. Error for anything that is not an integer.
absl::Status ParseDecimal(absl::string_view s, int64_t* out, bool* overflow);

// Decodes a little-endian two's complement integer (LONG1 / LONG4 payload). Returns false when it
// does not fit in int64.
bool DecodeLittleEndianInt(absl::string_view bytes, int64_t* out);

}  // namespace d2x::checkpoint::pickle

#endif  // D2X_CORE_CHECKPOINT_PICKLE_TEXT_H_
