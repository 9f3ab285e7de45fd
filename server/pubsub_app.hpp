// --mode pubsub: topics (pubsub_protocol.hpp). A PUB is framed once ("MSG topic payload") into a
// shared frame keyed by its topic, queued by reference to this thread's subscribers, and handed
// to the other threads, which queue it to theirs. Subscriptions live in this application's
// tables (topic -> subscribers, connection -> topics), never in server::Connection.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/app_support.hpp"
#include "server/application.hpp"
#include "server/fanout.hpp"

namespace wsring::server {

class PubsubApp final : public Application {
 public:
  static constexpr size_t kMaxTopicsPerConnection = 1024;

  const char* name() const override { return "pubsub"; }
  void attach(Fanout& fanout) override { fanout_ = &fanout; }
  void on_close(net::Token token) override;
  void on_data(Session& session, const core::ReadEvent& chunk) override;
  void on_shared(SharedFrame& frame) override { deliver(frame.key(), frame); }

 private:
  struct TopicHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Subscribers = std::unordered_map<std::string, std::vector<net::Token>, TopicHash, std::equal_to<>>;

  void command(Session& session, core::Opcode opcode, std::string_view message);
  bool subscribe(net::Token token, std::string_view topic);
  void unsubscribe(net::Token token, std::string_view topic);
  void deliver(std::string_view topic, SharedFrame& frame);

  Fanout* fanout_ = nullptr;
  Subscribers subscribers_;
  std::unordered_map<net::Token, std::vector<std::string>> topics_of_;  // only connections that subscribed
  MessageAssembler assembler_;
  std::string reply_;
};

}  // namespace wsring::server
