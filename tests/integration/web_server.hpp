// A small HTTP/1.1 web server on loopback for the -H tests, on the test's io_context: it parses each request with the
// project's own head parser (Content-Length or chunked bodies), records it, and answers by path:
//   /size/N      N pseudo-random bytes (seed N) with Content-Length;   /chunked/N  the same bytes, chunked
//   /echo        the request body back;  /empty  204;  /redirect  302 to /elsewhere;  /hang  never answers
//   /stall       a head for 100000 bytes, 10 of them, then nothing
//   anything else: 200 "ok". HEAD gets the GET head without a body. One request per connection. A leading "/app" (the
//   tests' base path) is ignored.
#pragma once

#include "bridge_fixture.hpp"

#include "net/http_body.hpp"
#include "net/http_head.hpp"

namespace testing {

class WebServer {
 public:
  struct Seen {
    net::http::RequestHead head;
    std::string body;
  };
  explicit WebServer(asio::io_context& io) : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}) { accept(); }
  ~WebServer() {
    *alive_ = false;
    std::error_code ignored;
    acceptor_.close(ignored);
    for (auto& c : open_) c->sock.close(ignored);
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<Seen> seen;
  std::size_t broken_answers = 0;  // answers whose write failed: the daemon closed the connection before taking them

  static std::string answer_for(const std::string& method, const std::string& path, const std::string& body) {
    auto head = [&](int status, const char* reason, const std::string& extra, std::size_t length) {
      return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n" + extra +
             "Content-Length: " + std::to_string(length) + "\r\nConnection: close\r\n\r\n";
    };
    const bool head_only = method == "HEAD";
    if (path.rfind("/size/", 0) == 0 || path.rfind("/chunked/", 0) == 0) {
      const std::size_t n = std::stoul(path.substr(path.rfind('/') + 1));
      const std::string payload = random_payload(n, n);
      if (path[1] == 's' || head_only)
        return head(200, "OK", "Content-Type: application/octet-stream\r\n", n) + (head_only ? "" : payload);
      std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
      for (std::size_t at = 0; at < n; at += 10000) {
        const std::size_t len = std::min<std::size_t>(10000, n - at);
        char size[20];
        std::snprintf(size, sizeof size, "%zx\r\n", len);
        out += size + payload.substr(at, len) + "\r\n";
      }
      return out + "0\r\n\r\n";
    }
    if (path == "/echo") return head(200, "OK", "X-Echo: yes\r\n", body.size()) + (head_only ? "" : body);
    if (path == "/empty") return "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    if (path == "/redirect") return head(302, "Found", "Location: /elsewhere\r\n", 0);
    return head(200, "OK", "Content-Type: text/plain\r\n", 2) + (head_only ? "" : "ok");
  }

 private:
  struct Conn : std::enable_shared_from_this<Conn> {
    explicit Conn(asio::ip::tcp::socket s) : sock(std::move(s)) {}
    asio::ip::tcp::socket sock;
    std::array<char, 65536> buf{};
    net::http::RequestParser parser;
    net::http::ChunkedDecoder chunks;
    net::http::RequestFraming framing;
    std::string body;
    std::string answer;
  };
  void accept() {
    acceptor_.async_accept([this, alive = alive_](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec || !*alive) return;
      auto c = std::make_shared<Conn>(std::move(s));
      open_.push_back(c);
      read(c);
      accept();
    });
  }
  void read(const std::shared_ptr<Conn>& c) {
    c->sock.async_read_some(asio::buffer(c->buf), [this, c, alive = alive_](std::error_code ec, std::size_t n) {
      if (ec || !*alive) return;
      std::size_t used = 0;
      if (c->parser.status() == net::http::ParseStatus::need_more) {
        if (c->parser.feed(c->buf.data(), n, used) != net::http::ParseStatus::good) return read(c);
        c->framing = net::http::request_framing(c->parser.head().headers);
      }
      if (c->framing.framing == net::http::BodyFraming::chunked) {
        std::size_t took = 0;
        c->chunks.feed(c->buf.data() + used, n - used, took, c->body);
        if (c->chunks.status() == net::http::ParseStatus::need_more) return read(c);
      } else {
        c->body.append(c->buf.data() + used, n - used);
        if (c->body.size() < c->framing.length) return read(c);
      }
      respond(c);
    });
  }
  void respond(const std::shared_ptr<Conn>& c) {
    const auto& head = c->parser.head();
    seen.push_back({head, c->body});
    std::string path = net::http::split_target(head.target).first;
    if (path.rfind("/app/", 0) == 0) path.erase(0, 4);  // the tests publish the server under the base path /app
    if (path == "/hang") return;
    if (path == "/stall") {  // a head promising 100000 bytes, 10 of them, then nothing
      c->answer = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789";
      return asio::async_write(c->sock, asio::buffer(c->answer), [c](std::error_code, std::size_t) {});
    }
    c->answer = answer_for(head.method, path, c->body);
    asio::async_write(c->sock, asio::buffer(c->answer), [this, c, alive = alive_](std::error_code ec, std::size_t) {
      if (ec && *alive) ++broken_answers;
      std::error_code ignored;
      c->sock.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      c->sock.close(ignored);
    });
  }
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Conn>> open_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace testing
