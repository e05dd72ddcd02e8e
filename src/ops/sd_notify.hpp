// systemd's notification protocol (sd_notify(3)) spoken directly: one datagram per message to $NOTIFY_SOCKET.
// A no-op outside systemd. Avoids a libsystemd dependency for five lines of socket code.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace ops {

class SystemdNotifier {
 public:
  SystemdNotifier();  // reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment
  bool enabled() const { return !socket_path_.empty(); }
  // Sends e.g. "READY=1\nSTATUS=2/2 forwards up". Returns false when the datagram could not be sent.
  bool notify(const std::string& state) const;
  // The interval at which WATCHDOG=1 must be sent (half of WATCHDOG_USEC), when systemd asked for it.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  std::string socket_path_;
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace ops
