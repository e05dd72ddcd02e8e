// net::HttpRequest against a one-shot server on loopback that answers with scripted bytes: the shapes token endpoints
// use (Content-Length, chunked, close-delimited), the caps (size, deadline) and TLS verification.
#include "net/http_request.hpp"
#include "net/tls.hpp"
#include "relay_fixture.hpp"
#include "support/test_cert.hpp"

using testing::run_until;

namespace {

// Accepts one connection (plain or TLS), reads the request head and body (by Content-Length), answers `answer`
// (unless empty: then it holds the connection open) and closes.
class OneShotServer {
 public:
  OneShotServer(asio::io_context& io, std::string answer, std::shared_ptr<asio::ssl::context> tls = nullptr)
      : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}), answer_(std::move(answer)), tls_(std::move(tls)) {
    acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      stream_ = tls_ ? std::make_unique<net::Stream>(std::move(s), *tls_) : std::make_unique<net::Stream>(std::move(s));
      if (!tls_) return read();
      stream_->tls()->async_handshake(asio::ssl::stream_base::server, [this](std::error_code e) {
        if (!e) read();
      });
    });
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string received;

 private:
  void read() {
    stream_->async_read_some(asio::buffer(buf_), [this](std::error_code ec, std::size_t n) {
      if (ec) return;
      received.append(buf_.data(), n);
      const auto end = received.find("\r\n\r\n");
      const auto cl = received.find("Content-Length: ");
      const std::size_t want = cl == std::string::npos ? 0 : std::stoul(received.substr(cl + 16));
      if (end == std::string::npos || received.size() < end + 4 + want) return read();
      if (answer_.empty()) return;
      stream_->async_write(asio::buffer(answer_), [this](std::error_code, std::size_t) { stream_->close(); });
    });
  }
  asio::ip::tcp::acceptor acceptor_;
  std::string answer_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::unique_ptr<net::Stream> stream_;
  std::array<char, 4096> buf_{};
};

struct Outcome {
  bool done = false;
  std::error_code ec;
  net::HttpResponse response;
  std::string problem;
};

Outcome fetch(asio::io_context& io, net::HttpRequestOptions options) {
  Outcome out;
  net::HttpRequest::start(io, std::move(options), [&out](std::error_code ec, net::HttpResponse r, std::string p) {
    out = Outcome{true, ec, std::move(r), std::move(p)};
  });
  REQUIRE(run_until(io, [&] { return out.done; }, std::chrono::seconds(15)));
  return out;
}

}  // namespace

TEST_CASE("http request: a POST with a form body, answered with Content-Length") {
  asio::io_context io;
  OneShotServer server(io, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"b\"}\r\nEXTRA");
  net::HttpRequestOptions o;
  o.method = "POST";
  o.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/tenant/oauth2/v2.0/token";
  o.headers.add("Content-Type", "application/x-www-form-urlencoded");
  o.body = "grant_type=client_credentials&scope=x";
  const auto out = fetch(io, o);
  REQUIRE_FALSE(out.ec);
  CHECK(out.response.status == 200);
  CHECK(out.response.body == "{\"a\":\"b\"}\r\n");
  CHECK_THAT(server.received, Catch::StartsWith("POST /tenant/oauth2/v2.0/token HTTP/1.1\r\nHost: 127.0.0.1:"));
  CHECK_THAT(server.received, Catch::Contains("Content-Length: 37\r\n"));
  CHECK_THAT(server.received, Catch::Contains("Connection: close\r\n\r\ngrant_type=client_credentials&scope=x"));
}

TEST_CASE("http request: chunked and close-delimited answers") {
  asio::io_context io;
  OneShotServer chunked(io, "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nWWW-Authenticate: Basic realm=/x.key\r\n\r\n4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n");
  OneShotServer closing(io, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
  net::HttpRequestOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(chunked.port()) + "/arc/token?x=1";
  auto out = fetch(io, o);
  REQUIRE_FALSE(out.ec);
  CHECK(out.response.status == 401);
  CHECK(out.response.body == "abcdefg");
  CHECK(*out.response.headers.find("www-authenticate") == "Basic realm=/x.key");
  o.url = "http://127.0.0.1:" + std::to_string(closing.port()) + "/";
  out = fetch(io, o);
  REQUIRE_FALSE(out.ec);
  CHECK(out.response.body == "until the end");
  CHECK(net::decode_chunked("5\r\nabc\r\n0\r\n\r\n") == std::nullopt);
  CHECK(net::decode_chunked("zz\r\n") == std::nullopt);
  CHECK(net::decode_chunked("3\r\nabc\r\n") == std::nullopt);  // no last chunk
}

TEST_CASE("http request: an answer over the cap, a silent server, a bad URL and header injection fail clearly") {
  asio::io_context io;
  OneShotServer big(io, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(5000, 'x'));
  OneShotServer silent(io, "");
  net::HttpRequestOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(big.port()) + "/";
  o.max_response = 4096;
  auto out = fetch(io, o);
  CHECK(out.ec == std::errc::message_size);
  CHECK_THAT(out.problem, Catch::Contains("larger than 4096"));
  o.url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/";
  o.timeout = std::chrono::milliseconds(300);
  out = fetch(io, o);
  CHECK(out.ec == asio::error::timed_out);
  o.url = "ftp://127.0.0.1/";
  CHECK(fetch(io, o).ec == std::errc::invalid_argument);
  o.url = "http://127.0.0.1:1/";
  o.headers.add("X-Bad", "a\r\nInjected: yes");
  CHECK_THAT(fetch(io, o).problem, Catch::Contains("line break"));
}

TEST_CASE("http request: TLS is verified against the given CA, and refused without it") {
  asio::io_context io;
  const auto cert = testing::make_test_cert();
  auto server_tls = net::make_server_tls_context(cert.cert_file, cert.key_file).value();
  OneShotServer good(io, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", server_tls);
  OneShotServer untrusted(io, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", server_tls);
  net::HttpRequestOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(good.port()) + "/";
  o.tls = net::make_client_tls_context(cert.cert_file).value();
  auto out = fetch(io, o);
  REQUIRE_FALSE(out.ec);
  CHECK(out.response.body == "ok");
  o.url = "https://127.0.0.1:" + std::to_string(untrusted.port()) + "/";
  o.tls = net::make_client_tls_context("").value();  // the system store does not know the test CA
  out = fetch(io, o);
  CHECK(out.ec);
  CHECK_THAT(out.problem, Catch::Contains("TLS handshake"));
}
