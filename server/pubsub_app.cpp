#include "server/pubsub_app.hpp"

#include <algorithm>

#include "server/pubsub_protocol.hpp"

namespace wsring::server {

void PubsubApp::on_data(Session& session, const core::ReadEvent& chunk) {
  std::string_view message;
  if (!assembler_.feed(session.token(), chunk, message)) return;
  command(session, chunk.message_opcode, message);
}

void PubsubApp::command(Session& session, core::Opcode opcode, std::string_view message) {
  PubsubCommand c;
  if (const char* error = parse_pubsub(message, c)) {
    session.close(core::close_code::policy_violation, error);
    return;
  }
  switch (c.verb) {
    case PubsubVerb::Sub:
      if (!subscribe(session.token(), c.topic)) {
        session.close(core::close_code::policy_violation, "pubsub: too many topics (at most 1024 per connection)");
        return;
      }
      reply_.assign("OK SUB ").append(c.topic);
      session.send(core::Opcode::Text, reply_.data(), reply_.size());
      return;
    case PubsubVerb::Unsub:
      unsubscribe(session.token(), c.topic);
      reply_.assign("OK UNSUB ").append(c.topic);
      session.send(core::Opcode::Text, reply_.data(), reply_.size());
      return;
    case PubsubVerb::Pub: {
      SharedFrame* frame = fanout_->frame(opcode, {"MSG ", c.topic, " ", c.payload}, c.topic);
      if (!frame) {
        session.close(core::close_code::internal_error, "pubsub: out of memory for the message");
        return;
      }
      deliver(c.topic, *frame);
      fanout_->post_to_other_threads(*frame);
      frame->release();
      return;
    }
  }
}

bool PubsubApp::subscribe(net::Token token, std::string_view topic) {
  std::vector<std::string>& mine = topics_of_[token];
  if (std::find(mine.begin(), mine.end(), topic) != mine.end()) return true;
  if (mine.size() >= kMaxTopicsPerConnection) return false;
  mine.emplace_back(topic);
  auto it = subscribers_.find(topic);
  if (it == subscribers_.end()) it = subscribers_.emplace(std::string(topic), std::vector<net::Token>{}).first;
  it->second.push_back(token);
  return true;
}

void PubsubApp::unsubscribe(net::Token token, std::string_view topic) {
  auto mine = topics_of_.find(token);
  if (mine == topics_of_.end()) return;
  auto& list = mine->second;
  auto at = std::find(list.begin(), list.end(), topic);
  if (at == list.end()) return;
  list.erase(at);
  if (list.empty()) topics_of_.erase(mine);
  auto it = subscribers_.find(topic);
  if (it == subscribers_.end()) return;
  std::erase(it->second, token);
  if (it->second.empty()) subscribers_.erase(it);
}

void PubsubApp::on_close(net::Token token) {
  assembler_.forget(token);
  auto mine = topics_of_.find(token);
  if (mine == topics_of_.end()) return;
  const std::vector<std::string> topics = std::move(mine->second);
  topics_of_.erase(mine);
  for (const std::string& topic : topics) {
    auto it = subscribers_.find(topic);
    if (it == subscribers_.end()) continue;
    std::erase(it->second, token);
    if (it->second.empty()) subscribers_.erase(it);
  }
}

// Subscribers in the order they subscribed; a receiver closing meanwhile is skipped by deliver.
void PubsubApp::deliver(std::string_view topic, SharedFrame& frame) {
  auto it = subscribers_.find(topic);
  if (it == subscribers_.end()) return;
  fanout_->deliver_all(it->second, frame);
}

}  // namespace wsring::server
