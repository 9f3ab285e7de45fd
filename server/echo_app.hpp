// The echo application: every data message goes back to its sender as it came, framed in place
// in the buffer it arrived in (no copy). Fragmented messages are echoed as fragments.
#pragma once

#include "server/application.hpp"

namespace wsring::server {

class EchoApp final : public Application {
 public:
  const char* name() const override { return "echo"; }
  bool echoes_in_place() const override { return true; }
  void on_data(Session& session, const core::ReadEvent& chunk) override { session.reply_in_place(chunk); }
};

}  // namespace wsring::server
