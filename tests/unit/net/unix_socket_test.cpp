#include <catch2/catch.hpp>

#include "net/unix_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace {

// A temporary directory, removed (with what is left in it) at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/hcb_unix_sock_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string file(const std::string& name) const { return path + "/" + name; }
};

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// A socket file nobody listens on (what a killed process leaves behind); the fd is closed at once.
void stale_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
  ::close(fd);
}

}  // namespace

TEST_CASE("listen_unix: mode applied, stale file replaced, live socket and plain file refused", "[unix_socket]") {
  TempDir dir;
  asio::io_context io;
  const std::string path = dir.file("a.sock");
  stale_socket(path);
  net::local_stream::acceptor first(io);
  net::SocketFileOptions options;
  options.mode = 0640;
  auto file = net::listen_unix(first, path, options);
  REQUIRE(file.ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);

  net::local_stream::acceptor second(io);
  auto busy = net::listen_unix(second, path, {});
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().find("another process listens on") != std::string::npos);
  CHECK(is_socket(path));

  const std::string plain = dir.file("plain");
  std::ofstream(plain) << "keep";
  net::local_stream::acceptor third(io);
  auto refused = net::listen_unix(third, plain, {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().find("exists and is not a socket; it is never deleted") != std::string::npos);
  std::string content;
  std::getline(std::ifstream(plain), content);
  CHECK(content == "keep");
}

TEST_CASE("SocketFile::remove removes its own socket file only", "[unix_socket]") {
  TempDir dir;
  asio::io_context io;
  const std::string path = dir.file("b.sock");
  net::local_stream::acceptor acceptor(io);
  auto file = net::listen_unix(acceptor, path, {});
  REQUIRE(file.ok());
  acceptor.close();
  // Another process took the path over with its own socket file. The file system may hand it our freed inode and, within
  // the same clock tick, our change time: its mode (0600, ours is 0660) still tells it apart. Ours must not delete it.
  REQUIRE(::unlink(path.c_str()) == 0);
  stale_socket(path);
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  file->remove();
  CHECK(is_socket(path));
  // Our own file goes.
  REQUIRE(::unlink(path.c_str()) == 0);
  net::local_stream::acceptor again(io);
  auto own = net::listen_unix(again, path, {});
  REQUIRE(own.ok());
  own->remove();
  CHECK_FALSE(is_socket(path));
}

TEST_CASE("async_unix_connect: connects, and reports a missing socket as such", "[unix_socket]") {
  TempDir dir;
  asio::io_context io;
  const std::string path = dir.file("c.sock");
  net::local_stream::acceptor acceptor(io);
  REQUIRE(net::listen_unix(acceptor, path, {}).ok());
  std::error_code connected = asio::error::would_block, missing = asio::error::would_block;
  net::async_unix_connect(io, path, std::chrono::seconds(5),
                          [&](std::error_code ec, net::local_stream::socket) { connected = ec; });
  net::async_unix_connect(io, dir.file("none.sock"), std::chrono::seconds(5),
                          [&](std::error_code ec, net::local_stream::socket s) {
                            missing = ec;
                            CHECK_FALSE(s.is_open());
                          });
  io.run_for(std::chrono::seconds(5));
  CHECK_FALSE(connected);
  CHECK(missing.value() == ENOENT);
}
