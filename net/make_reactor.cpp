// Choosing and creating a backend. Every failure (bad options, memory, a ring or buffer ring
// the kernel refuses) comes back as nullptr with one line saying what could not be had.
#include <new>

#include "net/reactor_state.hpp"

namespace wsring::net {

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::Auto: return "auto";
    case Backend::IoUring: return "io_uring";
    case Backend::Epoll: return "epoll";
  }
  return "?";
}

namespace {

std::unique_ptr<Reactor> choose(Backend backend, const ReactorOptions& options, std::string* why) {
  std::string error;
  if (backend == Backend::Epoll) {
    auto r = make_epoll_reactor(options, &error);
    *why = r ? "requested" : error;
    return r;
  }
  auto r = make_uring_reactor(options, &error);
  if (r) {
    *why = backend == Backend::Auto ? "auto: io_uring works here" : "requested";
    return r;
  }
  if (backend == Backend::IoUring) {
    *why = error;
    return nullptr;
  }
  auto e = make_epoll_reactor(options, why);
  if (e) *why = "auto: io_uring unavailable: " + error;
  return e;
}

}  // namespace

std::unique_ptr<Reactor> make_reactor(Backend backend, const ReactorOptions& options, std::string* why) {
  std::string ignored;
  if (!why) why = &ignored;
  if (!validate_reactor_options(options, why)) return nullptr;
  try {
    return choose(backend, options, why);
  } catch (const std::bad_alloc&) {
    *why = "out of memory while creating the reactor";
    return nullptr;
  }
}

}  // namespace wsring::net
