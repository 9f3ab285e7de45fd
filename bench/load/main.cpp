// wsring-load: parses the command line, starts one LoadWorker (and reactor) per thread, moves the
// run through its phases, prints progress once a second on stderr and the summary at the end.
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/load/merge.hpp"
#include "bench/load/options.hpp"
#include "bench/load/report.hpp"
#include "bench/load/run_extras.hpp"
#include "bench/load/fanout_run.hpp"
#include "bench/load/timeline.hpp"
#include "bench/load/worker.hpp"
#include "net/reactor.hpp"
#include "net/socket.hpp"

using namespace wsring;
using namespace wsring::load;

namespace {

std::atomic<int> g_signals{0};

void on_stop_signal(int) { g_signals.fetch_add(1, std::memory_order_relaxed); }

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kDrainNs = 3 * kSecond;  // how long to wait for the last echoes

// A worker thread's slot: what main reads while it runs and what it leaves behind.
struct WorkerSlot {
  LiveCounters live;
  WorkerPlan plan;
  std::atomic<int> started{0};  // 1 running, -1 could not create its reactor
  std::atomic<net::Reactor*> reactor{nullptr};
  std::string backend;
  std::string error;
  WorkerTotals totals;
  IntervalRecorder latency_intervals;  // the worker's echo latency per second (timeline.hpp)
  std::thread thread;
};

struct Sums {
  uint64_t sent = 0, received = 0, bytes_received = 0, lost = 0, in_flight_closed = 0, errors = 0, open = 0,
           opened = 0, failed = 0, last_echo_ns = 0, unanswered = 0;
  bool connect_done = true, exhausted = true, finished = true;
};

Sums sum(const std::vector<std::unique_ptr<WorkerSlot>>& slots) {
  Sums s;
  for (const auto& w : slots) {
    const LiveCounters& l = w->live;
    s.sent += l.sent.get();
    s.unanswered += l.unanswered.get();
    s.received += l.received.get();
    s.bytes_received += l.bytes_received.get();
    s.lost += l.lost.get();
    s.in_flight_closed += l.in_flight_at_close.get();
    s.errors += l.errors.get();
    s.open += l.open.get();
    s.opened += l.opened.get();
    s.failed += l.failed.get();
    s.last_echo_ns = std::max(s.last_echo_ns, l.last_echo_ns.get());
    s.connect_done = s.connect_done && l.connect_done.load(std::memory_order_relaxed);
    s.exhausted = s.exhausted && l.exhausted.load(std::memory_order_relaxed);
    s.finished = s.finished && l.finished.load(std::memory_order_relaxed);
  }
  return s;
}

void sleep_ns(uint64_t ns) {
  timespec ts{time_t(ns / kSecond), long(ns % kSecond)};
  nanosleep(&ts, nullptr);
}

std::string address_with_port0(const std::string& literal) {
  return literal.find(':') != std::string::npos ? "[" + literal + "]:0" : literal + ":0";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "merge") return merge_main(argc - 1, argv + 1);
  LoadOptions options;
  std::string message;
  switch (parse_load_args(argc, argv, options, message)) {
    case ParseOutcome::BadUsage:
      std::fprintf(stderr, "wsring-load: %s\n", message.c_str());
      return 2;
    case ParseOutcome::Exit0:
      std::fputs(message.c_str(), stdout);
      return 0;
    case ParseOutcome::Run:
      break;
  }

  net::SocketAddress target;
  std::string error;
  if (!check_output_paths(options, error)) {  // before the run, not after it
    std::fprintf(stderr, "wsring-load: %s\n", error.c_str());
    return 2;
  }
  if (!net::parse_address(options.url.address, target, &error)) {
    std::fprintf(stderr, "wsring-load: URL '%s': %s\n", options.url_text.c_str(), error.c_str());
    return 2;
  }
  // wss://: one client context for every worker; an unreadable --ca is a bad argument.
  server::TlsContext tls_context;
  if (options.url.tls && !make_load_tls_context(options.tls, tls_context, error)) {
    std::fprintf(stderr, "wsring-load: %s\n", error.c_str());
    return 2;
  }
  std::vector<net::SocketAddress> sources;
  for (const std::string& literal : options.source_addresses) {
    net::SocketAddress a;
    if (!net::parse_address(address_with_port0(literal), a, &error)) {
      std::fprintf(stderr, "wsring-load: --source-addrs: %s: %s\n", literal.c_str(), error.c_str());
      return 2;
    }
    sources.push_back(a);
  }
  const uint64_t fd_limit = net::raise_fd_limit();
  const uint64_t fds_needed = uint64_t(options.connections) + 32 + 4 * options.threads;
  if (fd_limit < fds_needed) {
    std::fprintf(stderr, "wsring-load: %s: %u connection%s need%s %llu file descriptors; the limit is %llu (ulimit -n)\n",
                 options.scenario == Scenario::Shootout ? "--max-clients" : "--connections", options.connections,
                 options.connections == 1 ? "" : "s", options.connections == 1 ? "s" : "",
                 static_cast<unsigned long long>(fds_needed),
                 static_cast<unsigned long long>(fd_limit));
    return 2;
  }

  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  if (!wait_for_start(options, g_signals)) return 1;  // --start-at: the shards' common start
  SharedRun run;
  const double start_unix_s = unix_now_s();
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  run.epoch_ns = uint64_t(ts.tv_sec) * kSecond + uint64_t(ts.tv_nsec);

  net::ReactorOptions reactor_options;
  // on_tick paces --connect-rate (1 ms is fine for it); --rate's sends wake the reactor at their
  // own time through LoadWorker::wake_at_us, to the microsecond, without polling.
  reactor_options.tick_ms = 1;
  reactor_options.recv_buffer_size = 64 * 1024 + uint32_t(net::kRecvHeadroom);
  reactor_options.recv_buffer_count = 512;

  const unsigned workers = options.threads;
  FanoutRun fanout(options);  // --scenario shootout|pubsub (bench/load/fanout_run.hpp)
  std::vector<std::unique_ptr<WorkerSlot>> slots;
  for (unsigned i = 0; i < workers; ++i) {
    auto slot = std::make_unique<WorkerSlot>();
    slot->plan.index = i;
    slot->plan.workers = workers;
    if (options.messages) slot->plan.message_budget = options.messages / workers + (i < options.messages % workers ? 1 : 0);
    slot->plan.target = target;
    slot->plan.sources = sources;
    slot->plan.tls = tls_context;
    slot->plan.latency_intervals = &slot->latency_intervals;
    fanout.plan(slot->plan);
    slots.push_back(std::move(slot));
  }
  for (auto& slot_ptr : slots) {
    WorkerSlot* slot = slot_ptr.get();
    slot->thread = std::thread([slot, &options, &run, &reactor_options] {
      // The reactor is made on the thread that drives it (io_uring SINGLE_ISSUER).
      std::string why;
      std::unique_ptr<net::Reactor> reactor = net::make_reactor(options.backend, reactor_options, &why);
      if (!reactor) {
        slot->error = why;
        slot->live.finished.store(true);
        slot->started.store(-1);
        return;
      }
      slot->backend = reactor->name();
      LoadWorker worker(options, slot->plan, run, slot->live, *reactor);
      slot->reactor.store(reactor.get());
      slot->started.store(1);
      worker.run();
      slot->reactor.store(nullptr);
      slot->totals = worker.take_totals();
    });
  }
  bool start_failed = false;
  for (auto& slot : slots) {
    while (slot->started.load() == 0) sleep_ns(1'000'000);
    if (slot->started.load() < 0) start_failed = true;
  }
  if (start_failed) {
    run.phase.store(int(RunPhase::Abort));
    for (auto& slot : slots) slot->thread.join();
    for (auto& slot : slots)
      if (!slot->error.empty()) {
        std::fprintf(stderr, "wsring-load: cannot start the %s backend: %s\n", net::backend_name(options.backend),
                     slot->error.c_str());
        break;
      }
    return 1;
  }
  const std::string backend = slots[0]->backend;
  std::fprintf(stderr, "wsring-load: %s, %u connection%s, %u thread%s, backend %s\n", options.url_text.c_str(),
               options.connections, options.connections == 1 ? "" : "s", workers, workers == 1 ? "" : "s",
               backend.c_str());

  // The phases. All times are on the run clock (nanoseconds since run.epoch_ns).
  uint64_t steady_start = 0, drain_start = 0, abort_at = 0;
  bool running = false, draining = false, aborted = false, interrupted = false;
  uint64_t window_start_sent = 0, window_end_sent = 0;  // --rate: the achieved rate
  uint64_t window_start_received = 0, window_start_bytes = 0, window_start_opened = 0;
  uint64_t window_end_received = 0, window_end_bytes = 0, window_end_opened = 0;
  Timeline timeline;
  std::vector<const IntervalRecorder*> recorders;
  for (auto& slot : slots) recorders.push_back(&slot->latency_intervals);
  auto timeline_counters = [](const Sums& s) {
    return TimelineCounters{s.open, s.sent, s.received, s.bytes_received, s.errors, s.opened};
  };
  auto begin_running = [&](uint64_t now, const Sums& s) {
    running = true;
    steady_start = now;
    window_start_received = s.received;
    window_start_sent = s.sent;
    window_start_bytes = s.bytes_received;
    window_start_opened = s.opened;
    run.steady_start_ns.store(now);
    run.phase.store(int(RunPhase::Running), std::memory_order_release);
  };
  auto begin_draining = [&](uint64_t now, const Sums& s) {
    draining = true;
    drain_start = now;
    window_end_received = s.received;
    window_end_sent = s.sent;
    window_end_bytes = s.bytes_received;
    window_end_opened = s.opened;
    run.drain_deadline_ns.store(now + kDrainNs);
    run.phase.store(int(RunPhase::Draining), std::memory_order_release);
  };
  if (options.handshake_only) begin_running(0, Sums{});  // no ramp: the whole run is measured
  // A --duration run waits for its connections to open no longer than its duration (after the
  // pacing --ramp-up or --connect-rate asks for): a server that accepts TCP but never upgrades
  // cannot keep it alive beyond that.
  const double pacing_s =
      std::max(options.ramp_up_s, options.connect_rate > 0 ? options.connections / options.connect_rate : 0.0);
  const uint64_t connect_deadline = options.messages == 0 && !options.handshake_only
                                        ? uint64_t((pacing_s + options.duration_s) * 1e9)
                                        : ~uint64_t{0};

  for (;;) {
    sleep_ns(5'000'000);
    const uint64_t now = run_clock_ns(run);
    const Sums s = sum(slots);
    const int signals = g_signals.load(std::memory_order_relaxed);
    if (s.finished) break;
    if (!running && !draining && s.connect_done) {
      std::fprintf(stderr, "wsring-load: %llu of %u connection%s open after %.2f s%s\n",
                   static_cast<unsigned long long>(s.open), options.connections, options.connections == 1 ? "" : "s",
                   double(now) / 1e9, s.failed ? " (some failed: see errors)" : "");
      begin_running(now, s);
    }
    std::vector<uint64_t> open_per_worker;
    for (auto& slot : slots) open_per_worker.push_back(slot->live.open.get());
    const bool fanout_done = fanout.poll(now, running, draining, s.open, s.failed, open_per_worker);
    if (!draining) {
      bool stop = false;
      if (signals > 0) {
        interrupted = true;
        stop = true;
      } else if (fanout.decides_the_end()) {
        stop = fanout_done;  // the shootout's steps: no --duration
      } else if (running && options.messages == 0 && now >= steady_start + uint64_t(options.duration_s * 1e9)) {
        stop = true;
      } else if (running && options.messages > 0 && s.exhausted) {
        stop = true;
      } else if (running && !options.handshake_only && !options.reconnect && options.stages.empty() && s.open == 0) {
        stop = true;  // every connection failed or was closed by the server: nothing left to measure
      } else if (!running && now >= connect_deadline) {
        std::fprintf(stderr,
                     "wsring-load: %llu of %u connection%s open after %.2f s, the run's --duration: stopping "
                     "(handshakes still pending count as timeouts)\n",
                     static_cast<unsigned long long>(s.open), options.connections, options.connections == 1 ? "" : "s",
                     double(now) / 1e9);
        run.connect_overdue.store(true, std::memory_order_relaxed);  // published by the phase store
        stop = true;
      }
      if (stop) begin_draining(now, s);
    } else if (!aborted && (signals > 1 || now >= drain_start + kDrainNs + kCloseTimeoutNs + 4 * kSecond)) {
      // A second Ctrl-C, or the close handshakes are not finishing: reset everything.
      aborted = true;
      abort_at = now;
      run.phase.store(int(RunPhase::Abort), std::memory_order_release);
    } else if (aborted && now >= abort_at + 2 * kSecond) {
      for (auto& slot : slots)
        if (net::Reactor* r = slot->reactor.load()) r->stop();
    }

    // Once a second (20 ms late, so that the workers have closed their latency interval): the
    // timeline's next point and the progress line.
    if (now >= uint64_t(timeline.next_end_s() * 1e9) + 20'000'000) {
      timeline.sample(timeline.next_end_s(), timeline_counters(s));
      const uint64_t in_flight =
          options.scenario == Scenario::Echo ? s.sent - s.received - s.lost - s.in_flight_closed - s.unanswered : 0;
      if (!options.quiet)
        print_progress_line(stderr, options, timeline.points().back(),
                            Timeline::live_latency(recorders, timeline.points().size() - 1), in_flight,
                            draining ? "  (stopping)" : running ? "" : "  (connecting)");
    }
  }
  for (auto& slot : slots) slot->thread.join();
  const uint64_t end = run_clock_ns(run);
  for (auto& slot : slots) slot->latency_intervals.close();

  RunReport report;
  report.options = &options;
  report.backend = backend;
  for (auto& slot : slots) report.totals.merge(slot->totals);
  fanout.settle(report.totals);
  report.interrupted = interrupted;
  report.elapsed_s = double(end) / 1e9;
  const Sums final_sums = sum(slots);
  if (double(end) / 1e9 > timeline.next_end_s() - 1) timeline.sample(double(end) / 1e9, timeline_counters(final_sums));
  timeline.attach_latency(recorders);
  if (!running) steady_start = 0;  // stopped before every connection was open: measure it all
  if (!draining) {
    drain_start = end;
    window_end_received = final_sums.received;
    window_end_sent = final_sums.sent;
    window_end_bytes = final_sums.bytes_received;
    window_end_opened = final_sums.opened;
  }
  uint64_t window_end = drain_start;
  if (options.messages > 0 && !interrupted) {
    // A --messages run is measured until its last echo came back.
    window_end = std::max(steady_start, final_sums.last_echo_ns);
    window_end_received = final_sums.received;
    window_end_bytes = final_sums.bytes_received;
  }
  report.window_s = double(window_end - std::min(window_end, steady_start)) / 1e9;
  report.window_messages = window_end_received - std::min(window_end_received, window_start_received);
  report.window_bytes = window_end_bytes - std::min(window_end_bytes, window_start_bytes);
  report.window_sent = window_end_sent - std::min(window_end_sent, window_start_sent);
  report.window_handshakes = window_end_opened - std::min(window_end_opened, window_start_opened);

  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  report.load_cpu_user_s = double(usage.ru_utime.tv_sec) + double(usage.ru_utime.tv_usec) / 1e6;
  report.load_cpu_system_s = double(usage.ru_stime.tv_sec) + double(usage.ru_stime.tv_usec) / 1e6;
  // --json -: stdout carries the JSON alone; the summary and the threshold table go to stderr.
  std::FILE* const human = options.json_stdout() ? stderr : stdout;
  print_summary(human, report);
  fanout.add_to_report(human, report);
  if (!finish_run_extras(human, options, report, timeline, start_unix_s, &error)) {
    std::fprintf(stderr, "wsring-load: %s\n", error.c_str());
    return 1;
  }
  report.extra_exit_status = std::max(report.extra_exit_status, fanout.exit_status());
  if (options.json_stdout()) {
    const std::string json = format_json(report);
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fflush(stdout);
  } else if (!options.json_path.empty() && !write_json(options.json_path, report, &error)) {
    std::fprintf(stderr, "wsring-load: %s\n", error.c_str());
    return 1;
  }
  return std::max(exit_status(report.totals), report.extra_exit_status);
}
