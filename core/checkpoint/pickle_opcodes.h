// Names of the pickle opcodes (CPython's Lib/pickletools.py), for error messages.
#ifndef D2X_CORE_CHECKPOINT_PICKLE_OPCODES_H_
#define D2X_CORE_CHECKPOINT_PICKLE_OPCODES_H_

#include <string>

namespace d2x::checkpoint::pickle {

// Name of a pickle opcode ("BINUNICODE"), or "0xNN" for bytes that are not opcodes.
std::string OpcodeName(unsigned char op);

}  // namespace d2x::checkpoint::pickle

#endif  // D2X_CORE_CHECKPOINT_PICKLE_OPCODES_H_
