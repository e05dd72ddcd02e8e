#include "net/unix_socket.hpp"

#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace net {
namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string errno_text(int err) { return std::strerror(err); }

std::string octal(unsigned mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777u);
  return text;
}

enum class Probe { refused, listening, gone, failed };

// Whether something accepts connections on the socket file at `path`. Non-blocking, so a listener whose backlog is
// full answers EAGAIN (alive) instead of blocking us.
Probe probe_listener(const std::string& path, int& err) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
    return Probe::failed;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  err = rc == 0 ? 0 : errno;
  ::close(fd);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS) return Probe::listening;
  if (err == ECONNREFUSED) return Probe::refused;
  if (err == ENOENT) return Probe::gone;
  return Probe::failed;
}

// A socket file from an earlier run is removed when nothing listens on it; anything else at `path` stays.
hc::Result<bool> clear_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;
    return hc::fail("cannot inspect " + quoted(path) + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) return hc::fail(socket_file_problem(path));
  int err = 0;
  switch (probe_listener(path, err)) {
    case Probe::listening:
      return hc::fail("another process listens on " + quoted(path) + " (is another hcbridge running?)");
    case Probe::gone: return true;
    case Probe::failed: return hc::fail("cannot check whether " + quoted(path) + " is in use: " + errno_text(err));
    case Probe::refused: break;
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return hc::fail("cannot remove the stale socket file " + quoted(path) + ": " + errno_text(errno));
  spdlog::info("removed the stale socket file {} (nothing listened on it)", path);
  return true;
}

// Between bind and listen: nobody can connect yet, so the file is never reachable with looser rights.
hc::Result<bool> apply_file_options(const std::string& path, const SocketFileOptions& options) {
  if (::chmod(path.c_str(), options.mode) != 0)
    return hc::fail("cannot set mode " + octal(options.mode) + " on " + quoted(path) + ": " +
                    errno_text(errno));
  if (!options.owner && !options.group) return true;
  const uid_t uid = options.owner ? *options.owner : static_cast<uid_t>(-1);
  const gid_t gid = options.group ? *options.group : static_cast<gid_t>(-1);
  if (::lchown(path.c_str(), uid, gid) != 0)
    return hc::fail("cannot change the owner of " + quoted(path) + ": " + errno_text(errno) +
                    (errno == EPERM ? " (setting another owner or group needs root)" : ""));
  return true;
}

class UnixConnect : public PendingUnixConnect, public std::enable_shared_from_this<UnixConnect> {
 public:
  UnixConnect(asio::io_context& io, UnixConnectHandler h) : socket_(io), timer_(io), handler_(std::move(h)) {}

  void start(const std::string& path, std::chrono::milliseconds timeout) {
    local_stream::endpoint endpoint;
    try {
      endpoint = local_stream::endpoint(path);
    } catch (const std::system_error& e) {  // longer than sun_path: validation normally stops it earlier
      return asio::post(timer_.get_executor(), [self = shared_from_this(), ec = e.code()] { self->finish(ec); });
    }
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->finish(asio::error::timed_out);
    });
    socket_.async_connect(endpoint, [self = shared_from_this()](std::error_code ec) { self->finish(ec); });
  }

  void cancel() override {
    asio::post(timer_.get_executor(), [self = shared_from_this()] { self->finish(asio::error::operation_aborted); });
  }

 private:
  void finish(std::error_code ec) {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    auto handler = std::move(handler_);
    if (ec) {
      std::error_code ignored;
      socket_.close(ignored);
      return handler(ec, local_stream::socket(socket_.get_executor()));
    }
    handler(ec, std::move(socket_));
  }

  local_stream::socket socket_;
  asio::steady_timer timer_;
  UnixConnectHandler handler_;
  bool done_ = false;
};

}  // namespace

void SocketFile::remove() const {
  struct stat st {};
  if (path.empty() || ::lstat(path.c_str(), &st) != 0) return;
  const bool ours = S_ISSOCK(st.st_mode) && st.st_dev == device && st.st_ino == inode && st.st_mode == mode &&
                    st.st_ctim.tv_sec == changed.tv_sec && st.st_ctim.tv_nsec == changed.tv_nsec;
  if (!ours) return;  // replaced by someone else
  if (::unlink(path.c_str()) != 0) spdlog::warn("cannot remove the socket file {}: {}", path, errno_text(errno));
}

hc::Result<SocketFile> listen_unix(local_stream::acceptor& acceptor, const std::string& path,
                                   const SocketFileOptions& options) {
  auto cleared = clear_stale_socket(path);
  if (!cleared) return hc::fail(cleared.error());
  std::error_code ec;
  local_stream::endpoint endpoint;
  try {
    endpoint = local_stream::endpoint(path);
  } catch (const std::system_error& e) {
    return hc::fail("cannot listen on " + quoted(path) + ": " + e.code().message());
  }
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (ec) {
    acceptor.close(ec);
    return hc::fail("cannot listen on " + quoted(path) + ": " + ec.message());
  }
  SocketFile file;
  file.path = path;
  auto applied = apply_file_options(path, options);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {  // after chmod/chown, which change ctime
    file.device = st.st_dev;
    file.inode = st.st_ino;
    file.changed = st.st_ctim;
    file.mode = st.st_mode;
  }
  if (applied) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!applied || ec) {
    std::error_code ignored;
    acceptor.close(ignored);
    file.remove();
    return hc::fail(applied ? "cannot listen on " + quoted(path) + ": " + ec.message() : applied.error());
  }
  return file;
}

std::shared_ptr<PendingUnixConnect> async_unix_connect(asio::io_context& io, const std::string& path,
                                                       std::chrono::milliseconds timeout, UnixConnectHandler handler) {
  auto connect = std::make_shared<UnixConnect>(io, std::move(handler));
  connect->start(path, timeout);
  return connect;
}

}  // namespace net
