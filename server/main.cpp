// wsring-echo: parses the command line, opens one SO_REUSEPORT listener and one reactor per
// thread (the port must be free unless --reuse-port) or takes the listening sockets its parent
// passed (socket activation), and serves until SIGINT/SIGTERM (then drains: closes every
// connection with 1001 over --drain-window). --admin-listen adds the admin listener's thread
// (/metrics, /healthz, /readyz); SIGUSR1 logs the counters.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/reactor.hpp"
#include "net/socket.hpp"
#include "server/admin_routes.hpp"
#include "server/admin_server.hpp"
#include "server/config.hpp"
#include "server/applications.hpp"
#include "server/engine.hpp"
#include "server/listeners.hpp"
#include "server/log.hpp"
#include "server/metrics.hpp"
#include "server/socket_activation.hpp"

using namespace wsring;

namespace {

server::SharedState* g_shared = nullptr;
server::StatsBoard* g_board = nullptr;

void on_stop_signal(int) {
  if (!g_shared) return;
  g_shared->draining.store(true, std::memory_order_relaxed);  // /readyz: 503 from now on
  g_shared->stop.store(true, std::memory_order_relaxed);
}

void on_dump_signal(int) {
  if (g_board) g_board->request_dump();
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
  tls.options.ticket_key_file = config.tls_ticket_key;
  tls.options.record_offload = config.tls_offload;
  if (!config.tls_ciphersuites.empty()) tls.options.tls13_suites = config.tls_ciphersuites;
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
  if (config.mode == server::AppMode::Push) o.tick_ms = 10;  // pushes are paced by the tick
  return o;
}


// Everything the reactor threads share while they serve.
struct Process {
  Process(const server::Config& c, const server::Logger& l, server::SharedState& s, const server::Listeners& ls,
          const std::vector<server::Listeners>& tls, const std::vector<server::Listeners>& extra, uint64_t limit)
      : config(c), log(l), shared(s), listeners(ls), tls_listeners(tls), extra_listeners(extra), fd_limit(limit),
        board(c.threads, net::monotonic_ms()),
        threads(c.threads, s.memory) {}
  const server::Config& config;
  const server::Logger& log;
  server::SharedState& shared;
  const server::Listeners& listeners;
  const std::vector<server::Listeners>& tls_listeners;
  const std::vector<server::Listeners>& extra_listeners;  // inherited, matching no flag: plain
  uint64_t fd_limit;
  server::StatsBoard board;                // every thread's counters, for /metrics and SIGUSR1
  std::atomic<const char*> backend{"none"};  // the backend thread 0 runs on (build_info)
  std::mutex mutex;  // guards exit_code and totals
  int exit_code = 0;
  server::ServerStats totals;
  // Fan-out across threads: the reactors, and the frame pools that outlive every engine. A
  // thread's engine and reactor are destroyed only once every thread has stopped serving, so
  // no thread posts to a reactor that is gone (see ServingThreads).
  server::ReactorThreads threads;
  std::atomic<unsigned> stopped_serving{0};

  void fail() {
    std::lock_guard<std::mutex> lock(mutex);
    exit_code = 1;
    shared.stop.store(true);
  }
};

void log_start(Process& p, const net::Reactor& reactor, const std::string& why) {
  const server::Config& config = p.config;
  const net::SocketAddress& address = p.listeners.address;
  p.log.info("wsring-echo %s: backend %s (%s), %u thread%s, listening on %s (fd limit %llu)", server::kVersion,
             reactor.name(), why.c_str(), config.threads, config.threads == 1 ? "" : "s",
             address.to_string().c_str(), static_cast<unsigned long long>(p.fd_limit));
  if (config.mode != server::AppMode::Echo) p.log.info("application: %s", server::mode_name(config.mode));
  p.log.info("serving %s (echo page: %s)", server::url_for(address, "ws", config.path).c_str(),
             server::url_for(address, "http", config.path).c_str());
  for (const server::Listeners& l : p.tls_listeners)
    p.log.info("serving %s (echo page: %s)", server::url_for(l.address, "wss", config.path).c_str(),
               server::url_for(l.address, "https", config.path).c_str());
  for (const server::Listeners& l : p.extra_listeners)
    p.log.info("serving %s on an inherited socket that matches no --listen/--tls-listen (plain ws://)",
               server::url_for(l.address, "ws", config.path).c_str());
  if (!config.proxy_listeners.empty())
    p.log.info("PROXY protocol header required on %s", config.proxy_listeners.front() == "all"
                                                             ? "every listener"
                                                             : "the --proxy-protocol listeners");
}

// Tells the engine which of its listeners expect a PROXY header, and adds the extra listeners.
void add_listeners(Process& p, server::Engine& engine, unsigned index) {
  const server::Config& config = p.config;
  if (server::proxy_listener(config.proxy_listeners, config.listen))
    engine.add_proxy_listener(p.listeners.fds[index]);
  for (size_t i = 0; i < p.tls_listeners.size(); ++i) {
    engine.add_tls_listener(p.tls_listeners[i].fds[index], index == 0);
    if (server::proxy_listener(config.proxy_listeners, config.tls_listen[i]))
      engine.add_proxy_listener(p.tls_listeners[i].fds[index]);
  }
  for (const server::Listeners& l : p.extra_listeners) {
    engine.add_listener(l.fds[index]);
    if (server::proxy_listener(config.proxy_listeners, "")) engine.add_proxy_listener(l.fds[index]);
  }
}

// Counts a thread out of serving when it leaves (started or not), then waits (bounded) until
// every thread has: only then may its reactor and engine go.
struct ServingThread {
  Process& p;
  bool left = false;
  void leave() {
    if (left) return;
    left = true;
    p.stopped_serving.fetch_add(1);
    for (int i = 0; i < 60000 && p.stopped_serving.load() < p.config.threads; ++i) usleep(1000);
  }
  ~ServingThread() { leave(); }
};

// One reactor thread. The reactor is created on the thread that runs it: an io_uring set up
// with SINGLE_ISSUER|DEFER_TASKRUN may only be driven by its creator.
void serve(Process& p, unsigned index) {
  ServingThread serving{p};
  std::string why;
  auto reactor = net::make_reactor(p.config.backend, reactor_options(p.config), &why);
  if (!reactor) {
    p.log.error("cannot start the %s backend: %s", net::backend_name(p.config.backend), why.c_str());
    p.fail();
    return;
  }
  std::unique_ptr<server::Application> app = server::make_application(p.config);
  std::unique_ptr<server::Engine> engine;
  try {  // its pools are allocated up front: a refusal is an error, not a crash
    engine = std::make_unique<server::Engine>(p.config, *reactor, p.listeners.fds[index], p.shared, p.log, *app);
  } catch (const std::exception& e) {
    p.log.error("cannot allocate the server's buffer pools (--max-header-size %u x 4096 gather buffers, "
                "4 MiB of write buffers): %s", p.config.max_header_size, e.what());
    p.fail();
    return;
  }
  add_listeners(p, *engine, index);
  engine->publish_to(p.board, index);
  engine->join_threads(p.threads, index);
  if (index == 0) {
    p.backend.store(reactor->name());
    log_start(p, *reactor, why);
  }
  p.threads.reactors[index].store(reactor.get(), std::memory_order_release);
  engine->run();
  p.threads.reactors[index].store(nullptr, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.totals += engine->stats();
  }
  serving.leave();  // before the engine and the reactor go (the engine drains its mailbox)
}

void install_signals(server::SharedState& shared) {
  g_shared = &shared;
  signal(SIGPIPE, SIG_IGN);
  struct sigaction stop {};
  stop.sa_handler = on_stop_signal;
  sigemptyset(&stop.sa_mask);
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  struct sigaction reload {};
  reload.sa_handler = on_reload_signal;
  sigemptyset(&reload.sa_mask);
  reload.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &reload, nullptr);
  struct sigaction dump {};
  dump.sa_handler = on_dump_signal;
  sigemptyset(&dump.sa_mask);
  dump.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &dump, nullptr);
}

// What the admin listener answers (server/admin_routes.cpp).
server::AdminRoutes admin_routes(Process& p) {
  return [&p](std::string_view path) {
    return server::answer_admin(path, p.board, p.shared, p.backend.load(), net::monotonic_ms());
  };
}

// The TLS context and one set of listeners per --tls-listen. Returns the exit status on failure
// (2: a TLS file, 1: an address), 0 on success.
int open_tls(const server::Config& config, const server::Logger& log, server::SharedState& shared,
             std::vector<server::InheritedSocket>& inherited, std::vector<server::Listeners>& out) {
  if (config.tls_listen.empty()) return 0;
  std::string error;
  if (!load_tls(config, shared.tls, error)) {
    std::fprintf(stderr, "wsring-echo: %s\n", error.c_str());
    return 2;
  }
  for (const std::string& text : config.tls_listen) {
    net::SocketAddress address;
    net::parse_address(text, address, &error);  // validated by the parser already
    out.emplace_back();
    if (server::adopt_inherited(inherited, address, config.threads, out.back())) continue;
    if (!server::open_listeners(address, config.threads, config.reuse_port, out.back(), error)) {
      log.error("%s", error.c_str());
      return 1;
    }
  }
  return 0;
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
  server::Logger log(config.log_level, config.log_format);
  server::SharedState shared(server::effective_max_memory(config));
  install_signals(shared);
  const uint64_t fd_limit = net::raise_fd_limit(1u << 20);

  std::vector<std::string> problems;
  std::vector<server::InheritedSocket> inherited = server::inherited_listeners(problems);
  for (const std::string& problem : problems) log.warn("socket activation: %s", problem.c_str());
  for (const server::InheritedSocket& s : inherited)
    log.info("socket activation: inherited listening socket fd %d on %s%s%s", s.fd, s.address.to_string().c_str(),
             s.name.empty() ? "" : " named ", s.name.c_str());
  net::SocketAddress requested;
  std::string error;
  net::parse_address(config.listen, requested, &error);  // validated by the parser already
  server::Listeners listeners;
  if (!server::adopt_inherited(inherited, requested, config.threads, listeners) &&
      !server::open_listeners(requested, config.threads, config.reuse_port, listeners, error)) {
    log.error("%s", error.c_str());
    return 1;
  }
  std::vector<server::Listeners> tls_listeners;
  if (const int status = open_tls(config, log, shared, inherited, tls_listeners); status != 0) return status;
  std::vector<server::Listeners> extra_listeners(inherited.size());
  for (size_t i = 0; i < inherited.size(); ++i) server::adopt_socket(inherited[i], config.threads, extra_listeners[i]);

  Process process(config, log, shared, listeners, tls_listeners, extra_listeners, fd_limit);
  g_board = &process.board;
  server::AdminServer admin;
  if (!config.admin_listen.empty()) {
    net::SocketAddress address;
    net::parse_address(config.admin_listen, address, &error);  // validated by the parser already
    if (!admin.open(address, error)) {
      log.error("%s", error.c_str());
      return 1;
    }
    admin.start(admin_routes(process));
    log.info("admin listener: http://%s/metrics, /healthz, /readyz", admin.address().to_string().c_str());
  }
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < config.threads; ++i) threads.emplace_back(serve, std::ref(process), i);
  serve(process, 0);
  for (std::thread& t : threads) t.join();
  admin.stop();
  // The listeners were closed by their servers at shutdown.
  server::LogLine summary, stopped;
  process.totals.summary(summary);
  stopped += "stopped: ";
  stopped += summary.text();
  log.event(server::LogLevel::Info, stopped.text(), {});
  return process.exit_code;
}
