// What the fan-out applications share: whole messages from chunks, and the set of a thread's
// open connections. Both are side tables of the application (nothing in server::Connection).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/message_reader.hpp"
#include "net/reactor.hpp"

namespace wsring::server {

// Whole messages out of the chunks on_data sees. A message that arrived in one chunk is handed
// on where it lies (no copy); only a message split across receive buffers or frames is gathered,
// in a string held only until its last chunk (--max-message-size bounds it).
class MessageAssembler {
 public:
  // True when `chunk` ends a message; `message` is then the whole of it, valid until the next call.
  bool feed(net::Token token, const core::ReadEvent& chunk, std::string_view& message) {
    const std::string_view bytes(reinterpret_cast<const char*>(chunk.payload), chunk.payload_size);
    auto it = partial_.find(token);
    if (it == partial_.end()) {
      if (chunk.message_end) {
        message = bytes;
        return true;
      }
      partial_.emplace(token, std::string(bytes));
      return false;
    }
    it->second.append(bytes);
    if (!chunk.message_end) return false;
    last_.swap(it->second);
    partial_.erase(it);
    message = last_;
    return true;
  }
  void forget(net::Token token) { partial_.erase(token); }

 private:
  std::unordered_map<net::Token, std::string> partial_;
  std::string last_;
};

// A thread's open connections: add, remove and visit all, each O(1) per connection.
class ConnectionSet {
 public:
  void add(net::Token t) {
    if (index_.size() <= t) index_.resize(size_t(t) + 1, kAbsent);
    if (index_[t] != kAbsent) return;
    tokens_.push_back(t);  // first: if it throws, the set is unchanged
    index_[t] = uint32_t(tokens_.size() - 1);
  }
  void remove(net::Token t) {
    if (t >= index_.size() || index_[t] == kAbsent) return;
    const uint32_t i = index_[t];
    tokens_[i] = tokens_.back();
    index_[tokens_[i]] = i;
    tokens_.pop_back();
    index_[t] = kAbsent;
  }
  const std::vector<net::Token>& tokens() const { return tokens_; }
  size_t size() const { return tokens_.size(); }

 private:
  static constexpr uint32_t kAbsent = UINT32_MAX;
  std::vector<net::Token> tokens_;
  std::vector<uint32_t> index_;  // by token
};

}  // namespace wsring::server
