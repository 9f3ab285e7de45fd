// --mode shootout: the websocket-shootout protocol (shootout_protocol.hpp). A broadcast is framed
// once into a shared frame, queued by reference to every connection of this thread and handed
// to the other threads, which queue it to theirs; then the sender gets its broadcastResult.
#pragma once

#include <string>

#include "server/app_support.hpp"
#include "server/application.hpp"
#include "server/fanout.hpp"

namespace wsring::server {

class ShootoutApp final : public Application {
 public:
  const char* name() const override { return "shootout"; }
  void attach(Fanout& fanout) override { fanout_ = &fanout; }
  void on_open(Session& session) override { open_.add(session.token()); }
  void on_close(net::Token token) override {
    open_.remove(token);
    assembler_.forget(token);
  }
  void on_data(Session& session, const core::ReadEvent& chunk) override;
  void on_shared(SharedFrame& frame) override { deliver_to_all(frame); }

 private:
  void deliver_to_all(SharedFrame& frame);
  void answer(Session& session, core::Opcode opcode, std::string_view message);

  Fanout* fanout_ = nullptr;
  ConnectionSet open_;
  MessageAssembler assembler_;
  std::string reply_;  // reused for echo and broadcastResult replies
};

}  // namespace wsring::server
