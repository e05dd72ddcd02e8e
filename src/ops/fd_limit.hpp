// The open-file limit of the process. Every tunnel holds two descriptors (the local side and the relay side), and a
// service starts with a soft limit of 1024 (systemd's default, most shells'), which would fail a daemon at ~500
// tunnels with "Too many open files" while its max_connections allows 1024 per forward. So both programs raise the
// soft limit to the hard one at start (as Go programs and nginx do; asio uses epoll, not select, so a large number is
// harmless) and warn when even the hard limit is below what their configuration allows.
#pragma once

#include <cstdint>
#include <string>

namespace ops {

struct FdLimit {
  uint64_t before = 0;  // the soft limit found at start
  uint64_t now = 0;     // the soft limit after raising it (== before when it could not be raised)
  uint64_t hard = 0;
  std::string error;    // why raising failed (e.g. a seccomp filter), empty otherwise
};

// Raises RLIMIT_NOFILE's soft limit to its hard limit.
FdLimit raise_fd_limit();

// The warning to log when `limit.now` descriptors cannot hold `needed`, empty otherwise. `what` says where `needed`
// comes from, e.g. "3 forwards with max_connections 1024 (2 descriptors per tunnel)".
std::string fd_limit_warning(const FdLimit& limit, uint64_t needed, const std::string& what);

}  // namespace ops
