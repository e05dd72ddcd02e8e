// What the configuration checks about a Unix socket binding before anything is bound: the owner and group it names
// exist, and its path can take a socket (no Asio, no logging: the config validation and its fuzz target use it).
#pragma once

#include "hc/result.hpp"

#include <sys/types.h>

#include <string>

namespace net {

// What a configured owner or group resolves to: a user or group name, or a number. Errors name the value.
hc::Result<uid_t> lookup_user(const std::string& name);
hc::Result<gid_t> lookup_group(const std::string& name);

// Why `path` cannot be bound as a listening socket, as far as the file system tells now ("" when it can): it exists
// and is not a socket (never deleted), or its directory does not exist. A socket file is fine (maybe stale).
std::string socket_file_problem(const std::string& path);

}  // namespace net
