#include "bench/load/tls_link.hpp"

#include <algorithm>
#include <cstring>

namespace wsring::load {

namespace {

// Room enough for a ClientHello or a small flight in one piece; records larger than the room
// left are written across calls to space() (the session loops), so this only sets the pace of
// growth.
constexpr size_t kMinRoom = 1024;
constexpr size_t kFirstCapacity = 2048;

}  // namespace

std::span<uint8_t> CipherBuffer::space() {
  if (capacity_ - size_ < kMinRoom) {
    const size_t grown = std::max({capacity_ * 2, kFirstCapacity, size_ + kMinRoom});
    auto bigger = std::make_unique_for_overwrite<uint8_t[]>(grown);
    if (size_) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = grown;
  }
  return {data_.get() + size_, capacity_ - size_};
}

void TlsLink::reset(bool keep_ticket) {
  if (keep_ticket && session) {
    if (server::TlsResumption next = session.resumption()) ticket = std::move(next);
  }
  session = server::TlsSession();
  pending.release();
  flying.release();
  connected_ns = 0;
}

bool make_load_tls_context(const LoadTlsOptions& options, server::TlsContext& out, std::string& error) {
  server::TlsClientOptions client;
  client.ca_file = options.ca_file;
  client.insecure = options.insecure;
  client.min_version = options.min_version;
  client.max_version = options.max_version;
  client.tls13_suites = options.tls13_suites;
  std::string why;
  out = server::TlsContext::client(client, &why);
  if (out) return true;
  if (!options.ca_file.empty()) {
    error = "--ca: " + why;
  } else if (options.min_version > options.max_version) {
    error = "--tls-min: " + why;
  } else {
    error = "wss://: " + why;
  }
  return false;
}

}  // namespace wsring::load
