#include "net/socket_file.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace net {
namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string errno_text(int err) { return std::strerror(err); }

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

hc::Result<uid_t> lookup_user(const std::string& name) {
  if (all_digits(name)) return static_cast<uid_t>(std::stoul(name));
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  const int rc = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0) return hc::fail("cannot look up user " + quoted(name) + ": " + errno_text(rc));
  if (found == nullptr) return hc::fail("no user " + quoted(name) + " on this system");
  return found->pw_uid;
}

hc::Result<gid_t> lookup_group(const std::string& name) {
  if (all_digits(name)) return static_cast<gid_t>(std::stoul(name));
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  const int rc = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0) return hc::fail("cannot look up group " + quoted(name) + ": " + errno_text(rc));
  if (found == nullptr) return hc::fail("no group " + quoted(name) + " on this system");
  return found->gr_gid;
}

std::string socket_file_problem(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISSOCK(st.st_mode)) return {};
    return quoted(path) + " exists and is not a socket; it is never deleted (remove it or choose another path)";
  }
  if (errno != ENOENT) return "cannot inspect " + quoted(path) + ": " + errno_text(errno);
  const std::string dir = directory_of(path);
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return "the directory " + quoted(dir) + " of the socket " + quoted(path) +
           " does not exist (under systemd, RuntimeDirectory= creates one in /run)";
  return {};
}

}  // namespace net
