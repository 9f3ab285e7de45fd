// The observability flags of wsring-echo: the admin listener, the log format and the sampled
// connection log. Kept apart from config.cpp, which holds the engine's flags.
#include <cstdlib>
#include <string>

#include "server/config.hpp"

namespace wsring::server {

const char kObservabilityUsage[] =
    "  --admin-listen ADDRESS     serve /metrics (Prometheus), /healthz and /readyz over HTTP here\n"
    "                             (same forms as --listen; default: off)\n"
    "  --log-format text|json     log lines as text or as one JSON object each (default text)\n"
    "  --connection-log FRACTION  log this fraction of connections when they close (peer, duration,\n"
    "                             messages and bytes each way, close codes), 0 to 1 (default 0: none);\n"
    "                             at most 100 lines a second, the rest counted\n";

bool apply_observability_option(int id, const std::string& arg, Config& config, std::string& error) {
  switch (id - kObservabilityOptionBase) {
    case 0:
      if (parse_listen_address(arg, config.admin_listen, &error)) return true;
      error = "--admin-listen: " + error;
      return false;
    case 1:
      if (arg == "text") config.log_format = LogFormat::Text;
      else if (arg == "json") config.log_format = LogFormat::Json;
      else {
        error = "--log-format: expected text or json, got " + cli::quoted(arg);
        return false;
      }
      return true;
    case 2: {
      char* end = nullptr;
      const double f = arg.empty() ? -1 : std::strtod(arg.c_str(), &end);
      if (arg.empty() || *end != '\0' || !(f >= 0 && f <= 1)) {
        error = "--connection-log: expected a fraction from 0 to 1 (0.01: one connection in a hundred), got " +
                cli::quoted(arg);
        return false;
      }
      config.connection_log = f;
      return true;
    }
    default:
      error = "unhandled option";
      return false;
  }
}

}  // namespace wsring::server
