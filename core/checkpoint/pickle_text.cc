#include "core/checkpoint/pickle_text.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace d2x::checkpoint::pickle {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Length of the UTF-8 sequence starting with lead byte `c` (0 if `c` cannot start one).
int SequenceLength(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

}  // namespace

bool ScanLatin1Utf8(absl::string_view s, size_t* latin1_length) {
  // SWAR over 8-byte words (little-endian): every byte must be ASCII, a C2/C3 lead byte followed
  // by a continuation byte, or that continuation byte.
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian only");
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  uint64_t bad = 0, carry = 0;
  size_t continuations = 0;
  auto step = [&](uint64_t x) {
    const uint64_t bit7 = x & kHigh;
    const uint64_t bit6 = (x << 1) & kHigh;
    const uint64_t cont = bit7 & ~bit6;
    const uint64_t lead = bit7 & bit6;
    const uint64_t bits5to2 = ((x << 2) | (x << 3) | (x << 4) | (x << 5)) & kHigh;
    const uint64_t bit1 = (x << 6) & kHigh;
    bad |= lead & (bits5to2 | ~bit1);       // lead byte other than C2 / C3
    bad |= cont ^ ((lead << 8) | carry);  // continuation iff preceded by a lead
    carry = lead >> 56;
    // Popcount of the bit-7 flags without a library call (no -mpopcnt in the baseline ISA).
    continuations += static_cast<size_t>(((cont >> 7) * 0x0101010101010101ull) >> 56);
  };
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    std::memcpy(&x, p + i, 8);
    step(x);
  }
  if (i < n) {
    uint64_t x = 0;  // zero padding is ASCII; a lead byte before it is caught as truncated
    std::memcpy(&x, p + i, n - i);
    step(x);
  }
  bad |= carry;
  if (bad != 0) return false;
  *latin1_length = n - continuations;
  return true;
}

absl::Status ValidateUtf8(absl::string_view s) {
  size_t unused;
  if (ScanLatin1Utf8(s, &unused)) return absl::OkStatus();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    const int len = SequenceLength(c);
    bool ok = len != 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    // Overlong 3/4-byte forms and code points above 0x10FFFF (surrogates are passed).
    ok = ok && !((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xF0 && p[i + 1] < 0x90) ||
                 (c == 0xF4 && p[i + 1] > 0x8F));
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte ", i, " of the string"));
    }
    i += len;
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> Latin1Length(absl::string_view s) {
  size_t length;
  if (ScanLatin1Utf8(s, &length)) return length;
  if (absl::Status st = ValidateUtf8(s); !st.ok()) return st;
  return absl::InvalidArgumentError(
      "text has code points above 0xFF and cannot be encoded as latin-1");
}

namespace {

// Scalar decoder: branch-free stream compaction. Every input byte computes the output byte it
// would start and writes it at the current output position, which only advances past
// non-continuation bytes. Never writes at or past dst[length of the output].
void Utf8ToLatin1Scalar(const unsigned char* p, size_t n, char* dst) {
  if (n == 0) return;
  size_t k = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    const unsigned c = p[i];
    const unsigned c1 = p[i + 1];
    const unsigned lead_mask = 0u - (c >> 7);
    const unsigned v = (c & ~lead_mask) | ((((c & 3u) << 6) | (c1 & 0x3Fu)) & lead_mask);
    dst[k] = static_cast<char>(v);
    k += 1u - ((c >> 7) & ~(c >> 6) & 1u);
  }
  const unsigned last = p[n - 1];
  if ((last & 0xC0u) != 0x80u) dst[k] = static_cast<char>(last);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define D2X_HAVE_SSSE3_DECODER 1

// pshufb controls that drop the continuation bytes of an 8-byte group (bit j of the index set:
// byte j is a continuation); byte 15 holds the number of bytes kept.
struct CompactionTable {
  alignas(16) unsigned char control[256][16];
  CompactionTable() {
    for (int m = 0; m < 256; ++m) {
      int kept = 0;
      for (int j = 0; j < 8; ++j) {
        if (!(m & (1 << j))) control[m][kept++] = static_cast<unsigned char>(j);
      }
      for (int j = kept; j < 15; ++j) control[m][j] = 0x80;
      control[m][15] = static_cast<unsigned char>(kept);
    }
  }
};

// 8 input bytes per step: decode every lead byte with its successor, then compact with pshufb.
// Returns the number of input bytes consumed (a multiple of 8); `*written` output bytes.
__attribute__((target("ssse3"))) size_t Utf8ToLatin1Ssse3(const unsigned char* p, size_t n,
                                                           char* dst, size_t out_len,
                                                           size_t* written) {
  static const CompactionTable table;
  const __m128i low2 = _mm_set1_epi8(0x03);
  const __m128i low6 = _mm_set1_epi8(0x3F);
  const __m128i cont_limit = _mm_set1_epi8(-64);  // signed: 0x80..0xBF < -64 <= 0xC0..
  const __m128i zero = _mm_setzero_si128();
  size_t i = 0, k = 0;
  while (i + 16 <= n && k + 16 <= out_len) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i next = _mm_srli_si128(x, 1);
    const __m128i cont = _mm_cmplt_epi8(x, cont_limit);
    const __m128i lead = _mm_andnot_si128(cont, _mm_cmplt_epi8(x, zero));
    const __m128i decoded = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(x, low2), 6),
                                         _mm_and_si128(next, low6));
    const __m128i value = _mm_or_si128(_mm_and_si128(lead, decoded), _mm_andnot_si128(lead, x));
    const int mask = _mm_movemask_epi8(cont) & 0xFF;
    const __m128i control =
        _mm_load_si128(reinterpret_cast<const __m128i*>(table.control[mask]));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + k), _mm_shuffle_epi8(value, control));
    k += table.control[mask][15];
    i += 8;
  }
  *written = k;
  return i;
}
#endif

}  // namespace

void Utf8ToLatin1(absl::string_view s, char* dst, size_t out_len) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
#ifdef D2X_HAVE_SSSE3_DECODER
  static const bool ssse3 = __builtin_cpu_supports("ssse3");
  if (ssse3) {
    size_t written = 0;
    const size_t consumed = Utf8ToLatin1Ssse3(p, n, dst, out_len, &written);
    p += consumed;
    n -= consumed;
    dst += written;
  }
#endif
  Utf8ToLatin1Scalar(p, n, dst);
}

std::string Latin1ToUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) AppendUtf8(static_cast<unsigned char>(ch), &out);
  return out;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

absl::StatusOr<std::string> DecodeStringLiteral(absl::string_view quoted) {
  if (quoted.size() < 2 || quoted.front() != quoted.back() ||
      (quoted.front() != '\'' && quoted.front() != '"')) {
    return absl::InvalidArgumentError("the STRING opcode argument must be quoted");
  }
  absl::string_view s = quoted.substr(1, quoted.size() - 2);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i + 1 >= s.size()) return absl::InvalidArgumentError("trailing \\ in string");
    const char e = s[++i];
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x': {
        if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) {
          return absl::InvalidArgumentError(absl::StrCat("invalid \\x escape at position ", i - 1));
        }
        out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
        i += 2;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int value = e - '0';
          for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k) {
            value = value * 8 + (s[++i] - '0');
          }
          out.push_back(static_cast<char>(value & 0xFF));
        } else {  // unknown escapes are kept verbatim
          out.push_back('\\');
          out.push_back(e);
        }
    }
  }
  return out;
}

absl::StatusOr<std::string> DecodeRawUnicodeEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c != '\\') {
      AppendUtf8(c, &out);
      ++i;
      continue;
    }
    // A run of backslashes: only an odd-length run followed by u/U starts an escape.
    size_t run = 0;
    while (i + run < s.size() && s[i + run] == '\\') ++run;
    const size_t next = i + run;
    const bool escape =
        (run % 2 == 1) && next < s.size() && (s[next] == 'u' || s[next] == 'U');
    const size_t literal = escape ? run - 1 : run;
    out.append(literal, '\\');
    i += literal;
    if (!escape) continue;
    const int digits = s[next] == 'u' ? 4 : 8;
    if (next + digits >= s.size()) {
      return absl::InvalidArgumentError("truncated \\uXXXX escape in UNICODE argument");
    }
    uint32_t cp = 0;
    for (int k = 1; k <= digits; ++k) {
      const int h = HexValue(s[next + k]);
      if (h < 0) return absl::InvalidArgumentError("truncated \\uXXXX escape in UNICODE argument");
      cp = cp * 16 + static_cast<uint32_t>(h);
    }
    if (cp > 0x10FFFF) return absl::InvalidArgumentError("\\Uxxxxxxxx out of range");
    AppendUtf8(cp, &out);
    i = next + 1 + digits;
  }
  return out;
}

std::string OneLine(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::Status ParseDecimal(absl::string_view s, int64_t* out, bool* overflow) {
  s = absl::StripAsciiWhitespace(s);
  *overflow = false;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return absl::InvalidArgumentError("invalid integer literal");
  uint64_t value = 0;
  const uint64_t limit = negative ? (uint64_t{1} << 63) : (uint64_t{1} << 63) - 1;
  bool last_underscore = true;  // disallows a leading underscore
  for (char c : s) {
    if (c == '_' && !last_underscore) {
      last_underscore = true;
      continue;
    }
    if (c < '0' || c > '9') return absl::InvalidArgumentError("invalid integer literal");
    last_underscore = false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (!*overflow && (value > (limit - digit) / 10)) *overflow = true;
    if (!*overflow) value = value * 10 + digit;
  }
  if (last_underscore) return absl::InvalidArgumentError("invalid integer literal");
  if (!*overflow) {
    *out = negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
  }
  return absl::OkStatus();
}

bool DecodeLittleEndianInt(absl::string_view bytes, int64_t* out) {
  const size_t n = bytes.size();
  if (n == 0) {
    *out = 0;
    return true;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const bool negative = (p[n - 1] & 0x80) != 0;
  // Bytes beyond the 8th must be pure sign extension.
  for (size_t k = 8; k < n; ++k) {
    if (p[k] != (negative ? 0xFF : 0x00)) return false;
  }
  if (n > 8 && ((p[7] & 0x80) != 0) != negative) return false;
  uint64_t value = negative ? ~uint64_t{0} : 0;
  for (size_t k = 0; k < std::min<size_t>(n, 8); ++k) {
    value &= ~(uint64_t{0xFF} << (8 * k));
    value |= uint64_t{p[k]} << (8 * k);
  }
  *out = static_cast<int64_t>(value);
  return true;
}

}  // namespace d2x::checkpoint::pickle
