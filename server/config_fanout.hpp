// The flags of the fan-out applications (--mode, --push-*, --slow-receiver): their ids, usage
// text and parsing, kept apart from config.cpp's table of the engine's flags.
#pragma once

#include <string>

#include "server/config.hpp"

namespace wsring::server::fanout_flags {

enum Id : int { kMode = 1100, kPushSize, kPushRate, kPushTotalRate, kSlowReceiver, kEnd };

extern const char kUsage[];

// Applies one of the flags above; false with `error` set (one line naming the flag).
bool apply(int id, const std::string& arg, Config& config, std::string& error);

}  // namespace wsring::server::fanout_flags
