// The detection matcher moved to core/verify (shared by the parity tests and `d2x export`'s
// verification); this header forwards to it.
#ifndef D2X_TESTS_PARITY_DETECTION_MATCH_H_
#define D2X_TESTS_PARITY_DETECTION_MATCH_H_

#include "core/verify/detection_match.h"

#endif  // D2X_TESTS_PARITY_DETECTION_MATCH_H_
