// wsring-echo: parses the command line, opens one SO_REUSEPORT listener and one reactor per
// thread (the port must be free unless --reuse-port), and serves until SIGINT/SIGTERM (then
// closes every connection with 1001).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/reactor.hpp"
#include "net/socket.hpp"
#include "server/config.hpp"
#include "server/echo_app.hpp"
#include "server/engine.hpp"
#include "server/listeners.hpp"
#include "server/log.hpp"

using namespace wsring;

namespace {

server::SharedState* g_shared = nullptr;

void on_stop_signal(int) {
  if (g_shared) g_shared->stop.store(true, std::memory_order_relaxed);
}

void on_reload_signal(int) {
  if (g_shared) g_shared->tls.reload_requested.store(true, std::memory_order_relaxed);
}

// wss://: the context every thread starts from, from --tls-cert/--tls-key and the ticket keys
// (--tls-ticket-key, or one random key shared by this process's threads). False with `error`
// naming the file at fault.
bool load_tls(const server::Config& config, server::SharedTls& tls, std::string& error) {
  tls.options.certificate_file = config.tls_cert;
  tls.options.key_file = config.tls_key;
  tls.options.ticket_keys = config.tls_ticket_key.empty() ? server::TicketKeys::random(&error)
                                                          : server::TicketKeys::load(config.tls_ticket_key, &error);
  if (!tls.options.ticket_keys) return false;
  tls.context = server::TlsContext::server(tls.options, &error);
  return bool(tls.context);
}

net::ReactorOptions reactor_options(const server::Config& config) {
  net::ReactorOptions o;
  o.recv_buffer_size = config.recv_buffer_size + uint32_t(net::kRecvHeadroom);
  o.recv_buffer_count = config.recv_buffers;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  server::Config config;
  std::string message;
  switch (server::parse_command_line(argc, argv, config, message)) {
    case server::ParseOutcome::BadUsage:
      std::fprintf(stderr, "%s\n", message.c_str());
      return 2;
    case server::ParseOutcome::Exit0:
      std::fputs(message.c_str(), stdout);
      return 0;
    case server::ParseOutcome::Run:
      break;
  }
  server::Logger log(config.log_level);

  signal(SIGPIPE, SIG_IGN);
  server::SharedState shared(server::effective_max_memory(config));
  g_shared = &shared;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction reload {};
  reload.sa_handler = on_reload_signal;
  sigemptyset(&reload.sa_mask);
  reload.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &reload, nullptr);

  const uint64_t fd_limit = net::raise_fd_limit(1u << 20);

  net::SocketAddress requested;
  std::string error;
  net::parse_address(config.listen, requested, &error);  // validated by the parser already
  server::Listeners listeners;
  if (!server::open_listeners(requested, config.threads, config.reuse_port, listeners, error)) {
    log.error("%s", error.c_str());
    return 1;
  }
  const net::SocketAddress& address = listeners.address;
  std::vector<server::Listeners> tls_listeners;
  if (!config.tls_listen.empty()) {
    if (!load_tls(config, shared.tls, error)) {
      std::fprintf(stderr, "wsring-echo: %s\n", error.c_str());
      return 2;
    }
    for (const std::string& text : config.tls_listen) {
      net::SocketAddress tls_address;
      net::parse_address(text, tls_address, &error);  // validated by the parser already
      tls_listeners.emplace_back();
      if (!server::open_listeners(tls_address, config.threads, config.reuse_port, tls_listeners.back(), error)) {
        log.error("%s", error.c_str());
        return 1;
      }
    }
  }

  // Each reactor is created on the thread that runs it: an io_uring set up with
  // SINGLE_ISSUER|DEFER_TASKRUN may only be driven by its creator.
  std::mutex mutex;
  int exit_code = 0;
  server::ServerStats totals;
  auto serve = [&](unsigned index, std::string* why_out) {
    std::string why;
    auto reactor = net::make_reactor(config.backend, reactor_options(config), &why);
    if (!reactor) {
      log.error("cannot start the %s backend: %s", net::backend_name(config.backend), why.c_str());
      std::lock_guard<std::mutex> lock(mutex);
      exit_code = 1;
      shared.stop.store(true);
      return;
    }
    server::EchoApp app;
    std::unique_ptr<server::Engine> engine;
    try {  // its pools are allocated up front: a refusal is an error, not a crash
      engine = std::make_unique<server::Engine>(config, *reactor, listeners.fds[index], shared, log, app);
    } catch (const std::exception& e) {
      log.error("cannot allocate the server's buffer pools (--max-header-size %u x 4096 gather buffers, "
                "4 MiB of write buffers): %s", config.max_header_size, e.what());
      std::lock_guard<std::mutex> lock(mutex);
      exit_code = 1;
      shared.stop.store(true);
      return;
    }
    server::Engine& echo = *engine;
    for (const server::Listeners& l : tls_listeners) echo.add_tls_listener(l.fds[index], index == 0);
    if (why_out) {
      *why_out = why;
      log.info("wsring-echo %s: backend %s (%s), %u thread%s, listening on %s (fd limit %llu)", server::kVersion,
               reactor->name(), why.c_str(), config.threads, config.threads == 1 ? "" : "s",
               address.to_string().c_str(), static_cast<unsigned long long>(fd_limit));
      log.info("serving %s (echo page: %s)", server::url_for(address, "ws", config.path).c_str(),
               server::url_for(address, "http", config.path).c_str());
      for (const server::Listeners& l : tls_listeners)
        log.info("serving %s (echo page: %s)", server::url_for(l.address, "wss", config.path).c_str(),
                 server::url_for(l.address, "https", config.path).c_str());
    }
    echo.run();
    std::lock_guard<std::mutex> lock(mutex);
    totals += echo.stats();
  };

  std::vector<std::thread> threads;
  for (unsigned i = 1; i < config.threads; ++i) threads.emplace_back(serve, i, nullptr);
  std::string why;
  serve(0, &why);
  for (std::thread& t : threads) t.join();
  // The listeners were closed by their servers at shutdown.
  log.info("stopped: %s", totals.summary().c_str());
  return exit_code;
}
