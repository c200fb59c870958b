// The d2x release version.
#ifndef D2X_CORE_VERSION_H_
#define D2X_CORE_VERSION_H_

namespace d2x {
inline constexpr char kD2xVersion[] = "0.1.0";
}  // namespace d2x

#endif  // D2X_CORE_VERSION_H_
