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

namespace wsring::load {

std::string finish_shootout_options(LoadOptions& o, bool saw_duration) {
  ShootoutOptions& s = o.shootout;
  if (o.scenario != Scenario::Shootout) {
    if (!s.first_flag.empty()) return s.first_flag + ": needs --scenario shootout";
    return {};
  }
  const std::string name = "--scenario shootout";
  if (saw_duration) return "--duration: not with " + name + " (it runs until the limit or --max-clients)";
  if (!o.stages.empty()) return "--stage: not with " + name + " (it sets its own steps: --step-size)";
  if (o.reconnect) return "--reconnect: not with " + name + " (a lost client is a failed step)";
  s.first_clients = s.initial_clients ? s.initial_clients : o.connections;
  const char* first = s.initial_clients ? "--initial-clients" : "--connections";
  if (s.first_clients > s.max_clients)
    return std::string(first) + ": " + std::to_string(s.first_clients) + " clients is above --max-clients " +
           std::to_string(s.max_clients);
  if (o.shard.count > 1) return "--shard: not with " + name + " (one process sees every client)";
  o.connections = s.max_clients;  // the slots the workers keep; the steps open them
  o.size_min = o.size_max = kShootoutMessageMax;
  return {};
}

}  // namespace wsring::load
