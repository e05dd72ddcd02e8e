// Unix stream sockets as local endpoints: the listening socket's file (created with a mode and owner, a stale file of
// an earlier run replaced only when nothing listens on it, removed only while it is still ours) and a connect with a
// deadline for targets.
#pragma once

#include "hc/result.hpp"
#include "net/socket_file.hpp"

#include <asio.hpp>

#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace net {

using local_stream = asio::local::stream_protocol;

struct SocketFileOptions {
  unsigned mode = 0660;
  std::optional<uid_t> owner;
  std::optional<gid_t> group;
};

// The file a listening socket was bound to, identified by device, inode, change time and mode as they were once its
// mode and owner were set, so that it is removed only while it is still the one this process created (another
// instance may have replaced it meanwhile, and a file system may give the new file the freed inode).
struct SocketFile {
  std::string path;
  dev_t device = 0;
  ino_t inode = 0;
  timespec changed{};
  mode_t mode = 0;
  void remove() const;
};

// Opens, binds and listens: a socket file left by an earlier run is removed first when connecting to it is refused
// (nothing listens); a live one or a file that is not a socket is an error. The mode and owner are applied between
// bind and listen, so no client can connect before they hold.
hc::Result<SocketFile> listen_unix(local_stream::acceptor& acceptor, const std::string& path,
                                   const SocketFileOptions& options);

// A connect in progress; cancel() (on the io_context's thread) makes the handler run with operation_aborted.
class PendingUnixConnect {
 public:
  virtual ~PendingUnixConnect() = default;
  virtual void cancel() = 0;
};

using UnixConnectHandler = std::function<void(std::error_code, local_stream::socket)>;

// The handler runs exactly once: with a connected socket, or with an error (refused, not found, timed_out,
// operation_aborted) and a closed socket.
std::shared_ptr<PendingUnixConnect> async_unix_connect(asio::io_context& io, const std::string& path,
                                                       std::chrono::milliseconds timeout, UnixConnectHandler handler);

}  // namespace net
