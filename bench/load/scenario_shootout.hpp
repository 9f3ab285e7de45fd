// --scenario shootout: the websocket-shootout broadcast step-up (hashrocket's websocket-bench
// `broadcast`). Clients are added step by step; in each step K broadcasters send broadcasts
// until a sample is complete; a step whose RTT percentile passes the limit ends the run.
// This header is the sans-I/O part: the flags, the messages (encode and decode), the board the
// threads share and the per-step figures. The worker sends and receives (worker_shootout.cpp),
// the driver on main's thread moves the steps (shootout_driver.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::load {

enum class ShootoutFormat : uint8_t { Json, Binary };

struct ShootoutOptions {
  uint32_t initial_clients = 0;   // --initial-clients; 0: --connections is the first step
  uint32_t step_size = 1000;      // --step-size: clients added per step
  uint32_t concurrent = 4;        // --concurrent: broadcasts in flight at once
  uint32_t sample_size = 20;      // --sample-size: broadcasts per step
  double limit_percentile = 95;   // --limit-percentile
  double limit_rtt_s = 0.5;       // --limit-rtt
  uint32_t max_clients = 10000;   // --max-clients: the step-up ends there
  ShootoutFormat format = ShootoutFormat::Json;  // --shootout-format
  std::string first_flag;         // the first of these flags given (they need --scenario shootout)
  uint32_t first_clients = 0;     // the first step: --initial-clients, else --connections
};

// The group's valued flags; parse one. Bad: `error` is one line naming the flag.
enum class ShootoutFlag { NotMine, Done, Bad };
bool is_shootout_flag(std::string_view name);
ShootoutFlag parse_shootout_flag(std::string_view name, std::string_view value, ShootoutOptions& options,
                                 std::string& error);
extern const char kShootoutUsage[];

// The largest broadcast request we write (payload bytes): the worker's send buffers hold it.
constexpr size_t kShootoutMessageMax = 64;

// The request for broadcast `id`: {"type":"broadcast","payload":{"id":ID}} (text) or 'b' and the
// id as 8 little-endian bytes (binary). Returns its size (<= kShootoutMessageMax).
size_t encode_broadcast_request(ShootoutFormat format, uint64_t id, uint8_t* out);

enum class ShootoutReplyKind : uint8_t { Broadcast, Result, Other };
struct ShootoutReply {
  ShootoutReplyKind kind = ShootoutReplyKind::Other;
  uint64_t id = 0;
  bool has_id = false;
};
// What a server message says: a broadcast or a broadcastResult, and the broadcast id in its
// payload. JSON: the "type" string and the number after "id": in the payload (servers may
// re-encode the payload: whitespace and key order do not matter). Binary: 'b' or 'r', 8 bytes.
ShootoutReply decode_shootout_reply(ShootoutFormat format, std::string_view message);

// One broadcast as the threads see it. main writes expected/sender_worker before publishing the
// id (ShootoutBoard::issued, release); the sender's worker stamps send_ns; every receiver counts.
struct BroadcastSlot {
  uint32_t expected = 0;       // clients open when it was issued: each must receive it once
  uint32_t sender_worker = 0;  // the worker whose connection sends it
  uint64_t issued_ns = 0;      // run clock when main issued it (for the timeout)
  std::atomic<uint64_t> send_ns{0};          // run clock when written; 0: not yet
  std::atomic<uint64_t> result_ns{0};        // broadcastResult arrived at the sender
  std::atomic<uint64_t> last_receipt_ns{0};  // the latest client that received it
  std::atomic<uint32_t> receipts{0};         // clients that received it (first copy only)
  std::atomic<uint32_t> duplicates{0};       // copies beyond the first
  std::atomic<uint32_t> sender_id{~0u};      // global id of the sending connection
  std::atomic<bool> unsent{false};           // the sender's worker had no open connection

  void record_receipt(uint64_t now);
};

class ShootoutBoard {
 public:
  explicit ShootoutBoard(size_t capacity) : slots_(new BroadcastSlot[capacity]), capacity_(capacity) {}
  std::atomic<uint32_t> target_clients{0};  // clients wanted now (all threads)
  std::atomic<uint64_t> issued{0};          // broadcasts below this id may be sent
  size_t capacity() const { return capacity_; }
  BroadcastSlot& slot(uint64_t id) { return slots_[id]; }

 private:
  std::unique_ptr<BroadcastSlot[]> slots_;
  size_t capacity_;
};

// Broadcasts the run can issue at most: every step's sample, up to --max-clients.
size_t shootout_capacity(const ShootoutOptions& options, uint32_t first_clients);

// One step's figures. RTT is from the request's send until the sender has its broadcastResult
// AND every client has received the broadcast; result_rtt until the broadcastResult alone.
struct ShootoutStep {
  uint32_t clients = 0;
  uint32_t broadcasts = 0;  // completed
  uint64_t rtt_min_ns = 0, rtt_p50_ns = 0, rtt_limit_ns = 0, rtt_max_ns = 0;  // limit: --limit-percentile
  uint64_t result_p50_ns = 0, result_limit_ns = 0;
  uint64_t lost = 0;        // deliveries missing when a broadcast timed out
  uint64_t duplicates = 0;
  bool crossed = false;     // rtt_limit_ns above --limit-rtt
};

// The nearest-rank percentile (0 < p <= 100) of `values`, which it sorts; 0 when empty.
uint64_t nearest_rank(std::vector<uint64_t>& values, double percentile);
// A step from its samples (both vectors are sorted in place).
ShootoutStep summarize_step(uint32_t clients, std::vector<uint64_t>& rtt_ns, std::vector<uint64_t>& result_ns,
                            const ShootoutOptions& options);

// "p95", "p99.9": the JSON key and column title of a percentile.
std::string percentile_key(double percentile);
std::string shootout_step_line(const ShootoutStep& step, size_t index, const ShootoutOptions& options);
std::string shootout_step_json(const ShootoutStep& step, const ShootoutOptions& options);

}  // namespace wsring::load
