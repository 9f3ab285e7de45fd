#include "server/applications.hpp"

#include "server/echo_app.hpp"
#include "server/engine.hpp"  // Session::reply_in_place, inline for echo
#include "server/pubsub_app.hpp"
#include "server/push_app.hpp"
#include "server/shootout_app.hpp"

namespace wsring::server {

std::unique_ptr<Application> make_application(const Config& config) {
  switch (config.mode) {
    case AppMode::Shootout: return std::make_unique<ShootoutApp>();
    case AppMode::Push: return std::make_unique<PushApp>(config);
    case AppMode::Pubsub: return std::make_unique<PubsubApp>();
    case AppMode::Echo: break;
  }
  return std::make_unique<EchoApp>();
}

}  // namespace wsring::server
