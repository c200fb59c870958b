// detectron2's default config tree (get_cfg()).
//
// Internal to //core/config:config.
#ifndef D2X_CORE_CONFIG_DEFAULTS_H_
#define D2X_CORE_CONFIG_DEFAULTS_H_

#include "core/config/value.h"

namespace d2x::config::internal {

// Every key of detectron2/config/defaults.py with its default value and Python type; built once.
const Value& DefaultTree();

}  // namespace d2x::config::internal

#endif  // D2X_CORE_CONFIG_DEFAULTS_H_
