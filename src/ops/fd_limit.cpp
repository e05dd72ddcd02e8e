#include "ops/fd_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace ops {

FdLimit raise_fd_limit() {
  FdLimit out;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  out.before = out.now = limit.rlim_cur;
  out.hard = limit.rlim_max;
  if (limit.rlim_cur >= limit.rlim_max) return out;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  out.now = limit.rlim_max;
  return out;
}

std::string fd_limit_warning(const FdLimit& limit, uint64_t needed, const std::string& what) {
  if (limit.now == 0 || limit.now == RLIM_INFINITY || limit.now >= needed) return {};
  std::string text = "the open-file limit is " + std::to_string(limit.now) + " descriptors, below the " +
                     std::to_string(needed) + " that " + what + " can use: connections beyond it fail with 'Too many "
                     "open files'; raise it (systemd: LimitNOFILE= in a drop-in; a shell: ulimit -n; Docker: --ulimit "
                     "nofile=N:N) or lower max_connections";
  if (!limit.error.empty()) text += " (raising the soft limit to the hard one failed: " + limit.error + ")";
  return text;
}

}  // namespace ops
