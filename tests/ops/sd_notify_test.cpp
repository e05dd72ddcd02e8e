// hcbridge speaks systemd's notification protocol (sd_notify(3)) the way a Type=notify unit with WatchdogSec= needs:
// the test plays systemd's part with its own AF_UNIX datagram socket in NOTIFY_SOCKET and runs the real binaries
// (hcrelay, plain ws://, and hcbridge with a -T and a -L forward through it).
//
//  - READY=1 arrives with a STATUS= line; STATUS= follows the state ("2/2 forwards up", tunnels open and closed);
//  - WATCHDOG_USEC=200000 and WATCHDOG_PID=<hcbridge's pid>: WATCHDOG=1 at least 3 times in a 1 s window, never more
//    than 200 ms (WATCHDOG_USEC, systemd's kill deadline) apart, and not flooding;
//  - SIGHUP: RELOADING=1, then READY=1 with STATUS=; SIGTERM: STOPPING=1, then exit code 0;
//  - WATCHDOG_PID naming another process (a variable inherited from a parent): no WATCHDOG=1 at all; an abstract
//    ("@...") NOTIFY_SOCKET works too.
//
// HCBRIDGE_BIN and HCRELAY_BIN name the binaries (ctest sets them). Every child is killed and reaped on any failure.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') FAIL(name << " is not set (run through ctest, or export the binary's path)");
  if (access(v, X_OK) != 0) FAIL(name << "=" << v << " is not executable");
  return v;
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  const char* digits = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    const unsigned b = rd() & 0xff;
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The suite-wide secrets check (tests/secrets/check_logs.sh) greps $HCB_TEST_LOG_DIR: keep our children's logs
// there, and name the secrets they must not contain.
void register_secret(const std::string& secret) {
  const char* dir = std::getenv("HCB_TEST_LOG_DIR");
  if (dir && *dir) std::ofstream(std::string(dir) + "/sd_notify.secrets", std::ios::app) << secret << "\n";
}
void keep_logs(const std::string& from) {
  const char* dir = std::getenv("HCB_TEST_LOG_DIR");
  if (!dir || !*dir) return;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(from, ec)) {
    if (e.path().extension() != ".err") continue;
    const auto to = std::filesystem::path(dir) / ("sd_notify." + std::to_string(getpid()) + "." + e.path().stem().string() + ".log");
    std::filesystem::copy_file(e.path(), to, std::filesystem::copy_options::overwrite_existing, ec);
  }
}

// A private temporary directory, removed (with its files) at the end; children's logs (*.err) are kept for the
// secrets check first.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/hcb-sdnotify.XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = buf.data();
  }
  ~TempDir() {
    keep_logs(path);
    const std::string cmd = "rm -rf '" + path + "'";
    if (std::system(cmd.c_str()) != 0) std::cerr << "# could not remove " << path << "\n";
  }
};

// A child process: stdout to a pipe we can read lines from (or to a file), stderr to a file. Killed (SIGKILL) and
// reaped by the destructor if it is still running; its stderr is printed when a test failure is unwinding.
class Child {
 public:
  Child(std::string name, const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
        const std::string& stderr_path, bool pipe_stdout, bool watchdog_pid_is_self = false)
      : name_(std::move(name)), stderr_path_(stderr_path) {
    int out[2] = {-1, -1};
    if (pipe_stdout && pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    // Everything the child needs is prepared before fork(): only async-signal-safe calls after it.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      if (extra_env.count(key) || key == "NOTIFY_SOCKET" || key == "WATCHDOG_USEC" || key == "WATCHDOG_PID") continue;
      env_strings.push_back(kv);
    }
    for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    const std::size_t watchdog_slot = envp.size();
    char watchdog_pid[64] = "WATCHDOG_PID=";
    if (watchdog_pid_is_self) envp.push_back(watchdog_pid);
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);
    const int err_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err_fd < 0) throw std::runtime_error("cannot create " + stderr_path);
    const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      if (watchdog_pid_is_self) {
        // What systemd does: WATCHDOG_PID is the pid of the process it started.
        long p = static_cast<long>(getpid());
        char digits[24];
        int n = 0;
        do {
          digits[n++] = static_cast<char>('0' + p % 10);
          p /= 10;
        } while (p > 0);
        char* w = watchdog_pid + std::strlen(watchdog_pid);
        while (n > 0) *w++ = digits[--n];
        *w = '\0';
        envp[watchdog_slot] = watchdog_pid;
      }
      dup2(null_fd, 0);
      dup2(pipe_stdout ? out[1] : null_fd, 1);
      dup2(err_fd, 2);
      execve(argp[0], argp.data(), envp.data());
      _exit(127);
    }
    close(err_fd);
    close(null_fd);
    if (pipe_stdout) {
      close(out[1]);
      stdout_fd_ = out[0];
    }
  }

  ~Child() {
    if (std::uncaught_exceptions() > 0) dump();
    kill_now();
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  void signal(int signo) const {
    if (!exited_) ::kill(pid_, signo);
  }

  // Waits up to `timeout` for the exit; returns the wait status, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    if (exited_) return status_;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = status;
        return status;
      }
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
  }

  bool running() {
    if (exited_) return false;
    return !wait_exit(0ms).has_value();
  }

  // One line from the child's stdout (without the newline), or nullopt after `timeout`/EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto nl = stdout_buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = stdout_buf_.substr(0, nl);
        stdout_buf_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{stdout_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[512];
      const ssize_t n = read(stdout_fd_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      stdout_buf_.append(buf, static_cast<std::size_t>(n));
    }
  }

  std::string stderr_text() const { return read_file(stderr_path_); }

  void dump() const {
    std::cout << "# ---- " << name_ << " stderr (pid " << pid_ << ") ----\n";
    std::istringstream in(stderr_text());
    for (std::string line; std::getline(in, line);) std::cout << "#   " << line << "\n";
    std::cout << "# ---- end of " << name_ << " stderr ----" << std::endl;
  }

  void kill_now() {
    if (pid_ <= 0 || exited_) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    status_ = status;
  }

 private:
  std::string name_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_buf_;
  bool exited_ = false;
  int status_ = 0;
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// One datagram received on the notify socket, split into lines.
struct Notification {
  Clock::time_point at;
  std::vector<std::string> lines;
  bool has(const std::string& line) const {
    for (const auto& l : lines)
      if (l == line) return true;
    return false;
  }
  std::optional<std::string> value(const std::string& key) const {
    for (const auto& l : lines)
      if (l.rfind(key + "=", 0) == 0) return l.substr(key.size() + 1);
    return std::nullopt;
  }
  std::string text() const {
    std::string t;
    for (const auto& l : lines) t += (t.empty() ? "" : "\\n") + l;
    return t;
  }
};

// The socket systemd would own: AF_UNIX, SOCK_DGRAM, at a path or (leading '@') in the abstract namespace.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX, SOCK_DGRAM) failed");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (name.size() >= sizeof(addr.sun_path)) throw std::runtime_error("socket path too long: " + name);
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '@' ? 0 : 1));
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0)
      throw std::runtime_error("bind " + name + ": " + std::strerror(errno));
  }
  ~NotifySocket() { close(fd_); }

  const std::string& name() const { return name_; }

  // The next datagram, or nullopt after `timeout`.
  std::optional<Notification> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    Notification msg{Clock::now(), {}};
    std::istringstream in(std::string(buf, static_cast<std::size_t>(n)));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) msg.lines.push_back(line);
    return msg;
  }

 private:
  std::string name_;
  int fd_ = -1;
};

// Everything received, in order, so that the watchdog rhythm can be checked over the whole run.
struct Recorder {
  NotifySocket& socket;
  std::vector<Notification> all;

  // Receives until a datagram satisfies `pred` (returns its index) or `timeout` passes (FAILs with `what`).
  template <typename Pred>
  std::size_t until(Pred pred, std::chrono::milliseconds timeout, const std::string& what) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      auto msg = socket.receive(left);
      if (!msg) break;
      all.push_back(*msg);
      if (pred(all.back())) return all.size() - 1;
    }
    std::string seen;
    for (std::size_t i = all.size() > 12 ? all.size() - 12 : 0; i < all.size(); ++i) seen += "\n  " + all[i].text();
    FAIL("no notification " << what << " within " << timeout.count() << " ms; last ones:" << seen);
    return 0;
  }

  // Receives everything for `period`.
  void collect(std::chrono::milliseconds period) {
    const auto deadline = Clock::now() + period;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return;
      auto msg = socket.receive(left);
      if (msg) all.push_back(*msg);
    }
  }

  // Indexes of datagrams carrying WATCHDOG=1 in [from, to).
  std::vector<std::size_t> watchdogs(std::size_t from, std::size_t to) const {
    std::vector<std::size_t> out;
    for (std::size_t i = from; i < to && i < all.size(); ++i)
      if (all[i].has("WATCHDOG=1")) out.push_back(i);
    return out;
  }
};

// A TCP echo server on 127.0.0.1 (random port) on its own thread.
class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 16) != 0)
      throw std::runtime_error("echo server: bind/listen failed");
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  void run() {
    std::vector<int> clients;
    while (!stop_) {
      std::vector<pollfd> fds{{fd_, POLLIN, 0}};
      for (int c : clients) fds.push_back({c, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) clients.push_back(c);
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[4096];
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0 || write(fds[i].fd, buf, static_cast<std::size_t>(n)) != n) {
          close(fds[i].fd);
          clients.erase(std::find(clients.begin(), clients.end(), fds[i].fd));
        }
      }
    }
    for (int c : clients) close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A TCP connection to 127.0.0.1:port, or -1.
int connect_tcp(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `text` and reads the same number of bytes back within `timeout`.
std::string echo_round_trip(int fd, const std::string& text, std::chrono::milliseconds timeout) {
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return "<write failed>";
  std::string got;
  const auto deadline = Clock::now() + timeout;
  while (got.size() < text.size()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// hcrelay on 127.0.0.1 (random port, plain ws://); returns its port.
int start_relay(Child& relay) {
  auto line = relay.read_line(10s);
  REQUIRE(line.has_value());
  std::smatch m;
  const std::regex re(R"(^hcrelay listening on ws://127\.0\.0\.1:(\d+)$)");
  REQUIRE(std::regex_match(*line, m, re));
  return std::stoi(m[1]);
}

constexpr auto kWatchdogUsec = 200000;

}  // namespace

TEST_CASE("sd_notify: READY/STATUS, WATCHDOG rhythm, RELOADING/READY on SIGHUP, STOPPING on SIGTERM", "[ops][sd_notify]") {
  const std::string hcbridge = env_or_fail("HCBRIDGE_BIN");
  const std::string hcrelay = env_or_fail("HCRELAY_BIN");
  TempDir dir;
  const std::string key = random_hex(32);
  register_secret(key);
  const std::string hc = "sdn-" + random_hex(4);

  Child relay("hcrelay", {hcrelay, "--bind", "127.0.0.1:0", "--sas", "root=" + key, "--log-level", "info"}, {},
              dir.path + "/hcrelay.err", true);
  const int relay_port = start_relay(relay);
  EchoServer echo;
  const int local_port = free_port();

  NotifySocket notify(dir.path + "/notify");
  Recorder rec{notify, {}};
  const auto started = Clock::now();
  Child daemon("hcbridge",
               {hcbridge, "-e", "ws://127.0.0.1:" + std::to_string(relay_port) + "/", "-K", "root", "-k", key, "-T",
                hc + ":127.0.0.1:" + std::to_string(echo.port()), "-L", std::to_string(local_port) + ":" + hc,
                "--log-level", "debug"},
               {{"NOTIFY_SOCKET", notify.name()}, {"WATCHDOG_USEC", std::to_string(kWatchdogUsec)}},
               dir.path + "/hcbridge.err", false, /*watchdog_pid_is_self=*/true);

  // READY=1 with a STATUS= line.
  const std::size_t ready = rec.until([](const Notification& n) { return n.has("READY=1"); }, 10000ms, "READY=1");
  const auto status = rec.all[ready].value("STATUS");
  INFO("READY datagram: " << rec.all[ready].text());
  REQUIRE(status.has_value());
  REQUIRE(std::regex_search(*status, std::regex(R"(^\d+/2 forwards up, \d+ tunnels open)")));
  std::cout << "ok - READY=1 after " << ms_since(started) << " ms with STATUS=" << *status << std::endl;
  // Nothing but STATUS/WATCHDOG may come before READY=1 (no STOPPING=1, no second READY).
  for (std::size_t i = 0; i < ready; ++i) {
    INFO("before READY: " << rec.all[i].text());
    CHECK_FALSE(rec.all[i].has("STOPPING=1"));
  }

  // Both forwards up: STATUS says so once the control channel is connected.
  const std::size_t up = rec.until(
      [](const Notification& n) { return n.value("STATUS").value_or("").rfind("2/2 forwards up", 0) == 0; }, 10000ms,
      "STATUS=2/2 forwards up");
  std::cout << "ok - STATUS=" << *rec.all[up].value("STATUS") << std::endl;

  // A tunnel (the -L client and the -T side are both this daemon: 2 tunnels) shows in STATUS, and goes away.
  const int client = connect_tcp(local_port);
  REQUIRE(client >= 0);
  const std::string reply = echo_round_trip(client, "ping through the tunnel", 10000ms);
  CHECK(reply == "ping through the tunnel");
  rec.until([](const Notification& n) { return n.value("STATUS").value_or("") == "2/2 forwards up, 2 tunnels open"; },
            5000ms, "STATUS=2/2 forwards up, 2 tunnels open");
  close(client);
  rec.until([](const Notification& n) { return n.value("STATUS").value_or("") == "2/2 forwards up, 0 tunnels open"; },
            5000ms, "STATUS=2/2 forwards up, 0 tunnels open");
  std::cout << "ok - STATUS followed a tunnel opening and closing" << std::endl;

  // The watchdog rhythm over one second (systemd: WatchdogSec=0.2s; hcbridge pings every 100 ms).
  const std::size_t window_start = rec.all.size();
  rec.collect(1000ms);
  const auto in_window = rec.watchdogs(window_start, rec.all.size());
  std::cout << "# " << in_window.size() << " WATCHDOG=1 in 1 s (WATCHDOG_USEC=" << kWatchdogUsec << ")" << std::endl;
  CHECK(in_window.size() >= 3);
  CHECK(in_window.size() <= 25);  // half the interval is 100 ms: ~10 expected; hundreds would be a busy loop

  // SIGHUP: RELOADING=1, then READY=1 with STATUS=.
  const std::size_t before_hup = rec.all.size();
  daemon.signal(SIGHUP);
  const std::size_t reloading =
      rec.until([](const Notification& n) { return n.has("RELOADING=1"); }, 5000ms, "RELOADING=1 after SIGHUP");
  const std::size_t ready_again =
      rec.until([](const Notification& n) { return n.has("READY=1"); }, 5000ms, "READY=1 after RELOADING=1");
  REQUIRE(reloading >= before_hup);
  REQUIRE(ready_again > reloading);
  INFO("READY datagram after reload: " << rec.all[ready_again].text());
  REQUIRE(rec.all[ready_again].value("STATUS").has_value());
  for (std::size_t i = before_hup; i < reloading; ++i) CHECK_FALSE(rec.all[i].has("READY=1"));
  std::cout << "ok - SIGHUP: RELOADING=1 then READY=1, STATUS=" << *rec.all[ready_again].value("STATUS") << std::endl;
  rec.collect(300ms);
  {
    const std::string log = daemon.stderr_text();
    INFO("hcbridge stderr must log the reload");
    CHECK(log.find("reload: 2 forward(s) unchanged, 0 stopped, 0 started") != std::string::npos);
  }

  // The watchdog never paused for longer than systemd would tolerate, from READY to now (reload included).
  const auto all_pings = rec.watchdogs(ready, rec.all.size());
  REQUIRE(all_pings.size() >= 2);
  double max_gap = 0;
  for (std::size_t i = 1; i < all_pings.size(); ++i) {
    const double gap =
        std::chrono::duration<double, std::milli>(rec.all[all_pings[i]].at - rec.all[all_pings[i - 1]].at).count();
    max_gap = std::max(max_gap, gap);
  }
  std::cout << "# " << all_pings.size() << " WATCHDOG=1 since READY, largest gap " << max_gap << " ms" << std::endl;
  CHECK(max_gap < kWatchdogUsec / 1000.0);
  REQUIRE(daemon.running());

  // SIGTERM: STOPPING=1, then exit code 0.
  const auto term_at = Clock::now();
  daemon.signal(SIGTERM);
  rec.until([](const Notification& n) { return n.has("STOPPING=1"); }, 5000ms, "STOPPING=1 after SIGTERM");
  const auto exit_status = daemon.wait_exit(15000ms);
  REQUIRE(exit_status.has_value());
  INFO("hcbridge after SIGTERM: " << describe_status(*exit_status));
  REQUIRE((WIFEXITED(*exit_status) && WEXITSTATUS(*exit_status) == 0));
  std::cout << "ok - SIGTERM: STOPPING=1, exit code 0 after " << ms_since(term_at) << " ms" << std::endl;

  relay.signal(SIGTERM);
  const auto relay_status = relay.wait_exit(10000ms);
  REQUIRE(relay_status.has_value());
  CHECK((WIFEXITED(*relay_status) && WEXITSTATUS(*relay_status) == 0));
}

TEST_CASE("sd_notify: WATCHDOG_PID of another process means no WATCHDOG=1; abstract NOTIFY_SOCKET", "[ops][sd_notify]") {
  const std::string hcbridge = env_or_fail("HCBRIDGE_BIN");
  TempDir dir;
  const int local_port = free_port();
  NotifySocket notify("@hcb-sdnotify-" + std::to_string(getpid()) + "-" + random_hex(4));
  Recorder rec{notify, {}};
  // Only a -L forward: it binds at start-up and needs the relay only when a client connects (none does).
  Child daemon("hcbridge",
               {hcbridge, "-e", "ws://127.0.0.1:9/", "--no-auth", "-L", std::to_string(local_port) + ":nobody",
                "--log-level", "debug"},
               {{"NOTIFY_SOCKET", notify.name()}, {"WATCHDOG_USEC", std::to_string(kWatchdogUsec)},
                {"WATCHDOG_PID", "1"}},
               dir.path + "/hcbridge.err", false);
  const std::size_t ready = rec.until([](const Notification& n) { return n.has("READY=1"); }, 10000ms,
                                      "READY=1 on an abstract socket");
  CHECK(rec.all[ready].value("STATUS").value_or("") == "1/1 forwards up, 0 tunnels open");
  rec.collect(700ms);
  const auto pings = rec.watchdogs(0, rec.all.size());
  std::cout << "# WATCHDOG_PID=1: " << pings.size() << " WATCHDOG=1 in 0.7 s after READY" << std::endl;
  CHECK(pings.empty());
  daemon.signal(SIGTERM);
  rec.until([](const Notification& n) { return n.has("STOPPING=1"); }, 5000ms, "STOPPING=1 after SIGTERM");
  const auto exit_status = daemon.wait_exit(15000ms);
  REQUIRE(exit_status.has_value());
  INFO("hcbridge after SIGTERM: " << describe_status(*exit_status));
  REQUIRE((WIFEXITED(*exit_status) && WEXITSTATUS(*exit_status) == 0));
  std::cout << "ok - abstract NOTIFY_SOCKET: READY=1, STOPPING=1, exit 0, no watchdog for another WATCHDOG_PID"
            << std::endl;
}
