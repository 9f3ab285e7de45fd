#include "server/config_fanout.hpp"

#include "server/cli_values.hpp"

namespace wsring::server {

const char* mode_name(AppMode mode) {
  switch (mode) {
    case AppMode::Echo: return "echo";
    case AppMode::Shootout: return "shootout";
    case AppMode::Push: return "push";
    case AppMode::Pubsub: return "pubsub";
  }
  return "?";
}

namespace fanout_flags {

namespace {

constexpr uint64_t kMinPushSize = 16, kMaxPushSize = 1u << 20;  // 16: the send time and the sequence
constexpr double kMaxRate = 1e8;

}  // namespace

const char kUsage[] =
    "  --mode echo|shootout|push|pubsub   the application (default echo; see README):\n"
    "                             shootout: the websocket-shootout echo/broadcast protocol;\n"
    "                             push: messages pushed to every connection at a set rate;\n"
    "                             pubsub: SUB topic, UNSUB topic, PUB topic payload\n"
    "  --push-size SIZE           push: bytes per message, 16 to 1M (default 64): send time and\n"
    "                             sequence number (8 bytes each, little-endian), then filler\n"
    "  --push-rate RATE           push: messages per second per connection, 0.001 to 100000000\n"
    "                             (default 1)\n"
    "  --push-total-rate RATE     push: messages per second over all connections, spread evenly,\n"
    "                             0 (use --push-rate) or 0.001 to 100000000 (default 0)\n"
    "  --slow-receiver drop|close a receiver with more than --max-backpressure unsent skips\n"
    "                             fan-out messages (drop, counted) or is closed 1008 (default drop)\n";

bool apply(int id, const std::string& arg, Config& config, std::string& error) {
  const std::string shown = cli::quoted(arg);
  switch (id) {
    case kMode:
      if (arg == "echo") config.mode = AppMode::Echo;
      else if (arg == "shootout") config.mode = AppMode::Shootout;
      else if (arg == "push") config.mode = AppMode::Push;
      else if (arg == "pubsub") config.mode = AppMode::Pubsub;
      else {
        error = "--mode: expected echo, shootout, push or pubsub, got " + shown;
        return false;
      }
      return true;
    case kPushSize: {
      uint64_t n = 0;
      if (!cli::parse_size_flag("--push-size", arg, kMinPushSize, kMaxPushSize, n, error)) return false;
      config.push_size = uint32_t(n);
      return true;
    }
    case kPushRate: return cli::parse_rate_flag("--push-rate", arg, 0.001, kMaxRate, config.push_rate, error);
    case kPushTotalRate:
      if (arg == "0") {
        config.push_total_rate = 0;
        return true;
      }
      return cli::parse_rate_flag("--push-total-rate", arg, 0.001, kMaxRate, config.push_total_rate, error);
    case kSlowReceiver:
      if (arg == "drop") config.slow_receiver_close = false;
      else if (arg == "close") config.slow_receiver_close = true;
      else {
        error = "--slow-receiver: expected drop or close, got " + shown;
        return false;
      }
      return true;
    default:
      error = "unhandled option";
      return false;
  }
}

}  // namespace fanout_flags
}  // namespace wsring::server
