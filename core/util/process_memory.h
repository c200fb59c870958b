// Memory of this process, from /proc/self/status (Linux): for progress lines and benchmarks.
#ifndef D2X_CORE_UTIL_PROCESS_MEMORY_H_
#define D2X_CORE_UTIL_PROCESS_MEMORY_H_

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace d2x::util {

// A "Vm...:" field of /proc/self/status in MiB ("VmHWM:" peak RSS, "VmRSS:" current); -1 if
// unavailable.
inline double ProcessStatusMiB(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + std::strlen(field)) / 1024;
  }
  return -1;
}

inline double PeakRssMiB() { return ProcessStatusMiB("VmHWM:"); }
inline double CurrentRssMiB() { return ProcessStatusMiB("VmRSS:"); }

// Resets the peak (VmHWM) to the current RSS, so a later PeakRssMiB() measures one phase.
inline void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace d2x::util

#endif  // D2X_CORE_UTIL_PROCESS_MEMORY_H_
