#include "ops/admin_server.hpp"

#include "net/address.hpp"
#include "net/http_head.hpp"

#include <spdlog/spdlog.h>

#include <array>

namespace ops {
namespace {

constexpr std::size_t kMaxConnections = 64;  // scrapers and probes only; a flood must not starve the tunnels
constexpr auto kRequestTimeout = std::chrono::seconds(5);

const char* reason_of(int status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 400: return "Bad Request";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

hc::Result<asio::ip::tcp::endpoint> resolve_bind(const std::string& bind) {
  auto hp = net::parse_host_port(bind, true);
  if (!hp) return hc::fail("admin address " + hp.error());
  std::error_code ec;
  auto address = asio::ip::make_address(hp->host == "localhost" ? "127.0.0.1" : hp->host, ec);
  if (ec) return hc::fail("admin address '" + bind + "': the host must be an IP address");
  return asio::ip::tcp::endpoint(address, hp->port);
}

struct Exchange {
  explicit Exchange(std::shared_ptr<asio::ip::tcp::socket> s) : socket(std::move(s)), timer(socket->get_executor()) {}
  std::shared_ptr<asio::ip::tcp::socket> socket;
  asio::steady_timer timer;
  std::array<char, 2048> buf{};
  net::http::RequestParser parser{8192};
  std::string response;
};

}  // namespace

AdminServer::AdminServer(asio::io_context& io, Routes routes) : io_(io), routes_(std::move(routes)), acceptor_(io) {}

AdminServer::~AdminServer() { stop(); }

hc::Result<asio::ip::tcp::endpoint> AdminServer::start(const std::string& bind) {
  auto ep = resolve_bind(bind);
  if (!ep) return ep;
  std::error_code ec;
  acceptor_.open(ep->protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep.value(), ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return hc::fail("admin endpoint: cannot listen on " + bind + ": " + ec.message());
  accept();
  return acceptor_.local_endpoint();
}

void AdminServer::stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
}

void AdminServer::accept() {
  acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (active_ >= kMaxConnections) {
        std::error_code ignored;
        socket.close(ignored);
      } else {
        serve(std::make_shared<asio::ip::tcp::socket>(std::move(socket)));
      }
    }
    accept();
  });
}

void AdminServer::serve(std::shared_ptr<asio::ip::tcp::socket> socket) {
  ++active_;
  auto ex = std::make_shared<Exchange>(std::move(socket));
  ex->timer.expires_after(kRequestTimeout);
  ex->timer.async_wait([ex](std::error_code ec) {
    if (!ec) {
      std::error_code ignored;
      ex->socket->close(ignored);
    }
  });
  auto finish = [this, ex](int status, const AdminResponse& r) {
    ex->response = net::http::build_response(status, reason_of(status), {{{"Content-Type", r.content_type}}}, r.body);
    asio::async_write(*ex->socket, asio::buffer(ex->response), [this, ex](std::error_code, std::size_t) {
      std::error_code ignored;
      ex->socket->shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      ex->socket->close(ignored);
      ex->timer.cancel();
      --active_;
    });
  };
  auto read = std::make_shared<std::function<void()>>();
  *read = [this, ex, finish, read] {
    ex->socket->async_read_some(asio::buffer(ex->buf), [this, ex, finish, read](std::error_code ec, std::size_t n) {
      if (ec) {
        ex->timer.cancel();
        --active_;
        *read = nullptr;  // break the self-reference
        return;
      }
      std::size_t consumed = 0;
      const auto status = ex->parser.feed(ex->buf.data(), n, consumed);
      if (status == net::http::ParseStatus::need_more) return (*read)();
      *read = nullptr;
      if (status == net::http::ParseStatus::bad) return finish(400, AdminResponse{400, "text/plain", "bad request\n"});
      const auto& head = ex->parser.head();
      if (head.method != "GET" && head.method != "HEAD")
        return finish(405, AdminResponse{405, "text/plain", "only GET\n"});
      const std::string path = net::http::split_target(head.target).first;
      const Handler* h = path == "/healthz" ? &routes_.healthz
                         : path == "/readyz" ? &routes_.readyz
                         : path == "/metrics" ? &routes_.metrics
                                              : nullptr;
      if (h == nullptr || !*h) return finish(404, AdminResponse{404, "text/plain", "not found: try /healthz, /readyz or /metrics\n"});
      AdminResponse r = (*h)();
      if (head.method == "HEAD") r.body.clear();
      finish(r.status, r);
    });
  };
  (*read)();
}

hc::Result<int> query_health(const std::string& bind, std::chrono::milliseconds timeout, std::string* body) {
  auto ep = resolve_bind(bind);
  if (!ep) return hc::fail(ep.error());
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  std::string response;
  std::string problem;
  std::array<char, 4096> buf{};
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: " + bind + "\r\nConnection: close\r\n\r\n";
  std::function<void()> read_rest = [&] {
    socket.async_read_some(asio::buffer(buf), [&](std::error_code rec, std::size_t n) {
      response.append(buf.data(), n);
      if (!rec) read_rest();
    });
  };
  socket.async_connect(ep.value(), [&](std::error_code ec) {
    if (ec) {
      problem = "cannot connect to " + bind + ": " + ec.message();
      return;
    }
    asio::async_write(socket, asio::buffer(request), [&](std::error_code wec, std::size_t) {
      if (wec) {
        problem = wec.message();
        return;
      }
      read_rest();
    });
  });
  io.run_for(timeout);
  if (!problem.empty()) return hc::fail(problem);
  net::http::ResponseParser parser;
  std::size_t consumed = 0;
  if (parser.feed(response.data(), response.size(), consumed) != net::http::ParseStatus::good)
    return hc::fail(response.empty() ? "no answer from " + bind + " within the timeout" : "bad answer from " + bind);
  if (body) *body = response.substr(consumed);
  return parser.head().status;
}

}  // namespace ops
