// --scenario's checks across flags: a receive-only scenario sends nothing, so the flags that
// shape what is sent make no sense with it.
#include "bench/load/options.hpp"

namespace wsring::load {

std::string check_scenario_options(const LoadOptions& o, bool saw_messages) {
  if (o.scenario == Scenario::Echo) return {};
  const std::string name = std::string("--scenario ") + scenario_name(o.scenario);
  if (saw_messages) return "--messages: not with " + name + " (it sends nothing; use --duration)";
  if (o.rate > 0 && o.scenario != Scenario::Pubsub)
    return "--rate: not with " + name + " (the server sets the pace: --push-rate)";
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
  // No echo latency or rate here: a step's broadcast RTTs are in the report and the JSON.
  if (!o.hdr_log_path.empty()) return "--hdr-log: not with " + name + " (it records no echo latency)";
  for (const Threshold& t : o.thresholds) {
    if (t.metric != "errors" && t.metric != "connect_failures" && t.metric != "lost" && t.metric != "mismatched")
      return "--threshold '" + t.text + "': not with " + name +
             " (it has no echo latency or rate; --limit-rtt sets the limit of a step)";
  }
  o.connections = s.max_clients;  // the slots the workers keep; the steps open them
  o.size_min = o.size_max = kShootoutMessageMax;
  return {};
}

}  // namespace wsring::load

namespace wsring::load {

std::string finish_pubsub_options(LoadOptions& o) {
  PubsubOptions& p = o.pubsub;
  if (o.scenario != Scenario::Pubsub) {
    if (!p.first_flag.empty()) return p.first_flag + ": needs --scenario pubsub";
    return {};
  }
  const std::string name = "--scenario pubsub";
  if (p.publishers > o.connections)
    return "--publishers: " + std::to_string(p.publishers) + " publishers need as many connections (--connections " +
           std::to_string(o.connections) + ")";
  if (!o.stages.empty()) return "--stage: not with " + name;
  if (o.reconnect) return "--reconnect: not with " + name + " (a subscriber that left misses messages)";
  if (o.shard.count > 1) return "--shard: not with " + name + " (the topics are numbered over one process)";
  if (!o.sizes.fixed()) return "--size: one size with " + name + " (the payload of every publish)";
  if (o.size_min > kPubsubPayloadMax)
    return "--size: at most " + std::to_string(kPubsubPayloadMax) + " bytes with " + name;
  if (o.rate > 0) p.rate = o.rate;
  o.rate = 0;  // paced by the publishers (worker_pubsub.cpp), not the echo scheduler
  p.payload_size = o.size_min;
  // Room for a burst of 16 publishes in a publisher's send buffer.
  o.size_max = 16 * publish_size_max(p);
  return {};
}

}  // namespace wsring::load
