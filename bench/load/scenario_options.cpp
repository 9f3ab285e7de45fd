// --scenario's checks across flags: a receive-only scenario sends nothing, so the flags that
// shape what is sent make no sense with it.
#include "bench/load/options.hpp"

namespace wsring::load {

std::string check_scenario_options(const LoadOptions& o, bool saw_messages) {
  if (o.scenario == Scenario::Echo) return {};
  const std::string name = std::string("--scenario ") + scenario_name(o.scenario);
  if (saw_messages) return "--messages: not with " + name + " (it sends nothing; use --duration)";
  if (o.rate > 0) return "--rate: not with " + name + " (the server sets the pace: --push-rate)";
  if (o.handshake_only) return "--handshake-only: not with " + name;
  if (o.deflate) return "--deflate: not with " + name;
  if (!o.messages_from.empty()) return "--message: not with " + name;
  if (o.match != MatchMode::Echo) return "--match: not with " + name;
  if (o.pipeline != 1) return "--pipeline: not with " + name;
  if (!o.stages.empty() && o.stages.has_rate()) return "--stage: a rate is not for " + name + " (connections only)";
  return {};
}

}  // namespace wsring::load
