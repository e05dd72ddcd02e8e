#include "conn.hpp"

#include <ctime>
#include <stdexcept>
#include <variant>

#include "hc/control_message.hpp"
#include "hc/guid.hpp"
#include "hc/sas.hpp"
#include "hc/url.hpp"
#include "net/tls.hpp"
#include "net/ws_client.hpp"

namespace bench {
namespace {

using tcp = asio::ip::tcp;

class TcpConn : public Conn {
 public:
  explicit TcpConn(tcp::socket socket) : socket_(std::move(socket)) {
    asio::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);  // the daemons set it too; without it 64-byte RTTs are ~40 ms
  }
  void read_some(asio::mutable_buffer buffer, ReadHandler handler) override {
    socket_.async_read_some(buffer, std::move(handler));
  }
  void write(asio::mutable_buffer buffer, WriteHandler handler) override {
    asio::async_write(socket_, buffer, [h = std::move(handler)](std::error_code ec, std::size_t) { h(ec); });
  }
  bool clobbers_writes() const override { return false; }
  void close() override {
    asio::error_code ignored;
    socket_.close(ignored);
  }

 private:
  tcp::socket socket_;
};

class WsConn : public Conn {
 public:
  explicit WsConn(std::shared_ptr<net::WebSocket> ws) : ws_(std::move(ws)) {}
  ~WsConn() override { close(); }
  void read_some(asio::mutable_buffer buffer, ReadHandler handler) override {
    read_chunk(ws_, buffer, std::move(handler));
  }
  void write(asio::mutable_buffer buffer, WriteHandler handler) override {
    ws_->async_write(buffer, net::ws::Opcode::binary, true, std::move(handler));
  }
  bool clobbers_writes() const override { return true; }
  // Drops the connection (the relay passes that on as an abort): the benchmark closes only once its exchange is done.
  void close() override {
    if (ws_->is_open()) ws_->abort();
  }

 private:
  // Static, holding the WebSocket: the handler may run after this Conn is gone (abort cancels pending reads).
  static void read_chunk(std::shared_ptr<net::WebSocket> ws, asio::mutable_buffer buffer, ReadHandler handler) {
    auto* raw = ws.get();
    raw->async_read(
        buffer, [ws = std::move(ws), buffer, h = std::move(handler)](std::error_code ec, net::ReadChunk chunk) mutable {
          if (ec == net::WsError::closed) return h(asio::error::eof, 0);
          if (!ec && chunk.size == 0) return read_chunk(std::move(ws), buffer, std::move(h));  // an empty frame
          h(ec, chunk.size);
        });
  }

  std::shared_ptr<net::WebSocket> ws_;
};

std::shared_ptr<asio::ssl::context> client_tls(const Endpoint& e) {
  if (!e.tls) return nullptr;
  auto ctx = net::make_client_tls_context(e.ca_file);
  if (!ctx.ok()) throw std::runtime_error("TLS context: " + ctx.error());
  return ctx.value();
}

std::string token_for(const Endpoint& e) {
  if (e.key_name.empty()) return {};
  return hc::create_sas_token(hc::sas_resource_uri(e.host, e.hc_name), e.key_name, e.key,
                              static_cast<int64_t>(std::time(nullptr)) + 24 * 3600);
}

std::string describe(std::error_code ec, const net::ConnectResult& r) {
  if (r.http_status != 0) return "HTTP " + std::to_string(r.http_status) + " " + r.reason;
  return r.reason.empty() ? ec.message() : r.reason;
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------------

struct Dialer::Impl {
  asio::io_context& io;
  Endpoint endpoint;
  tcp::endpoint tcp_target;
  std::shared_ptr<asio::ssl::context> tls;
  std::string token;
};

Dialer::Dialer(asio::io_context& io, Endpoint e) : impl_(std::make_shared<Impl>(Impl{io, e, {}, nullptr, {}})) {
  impl_->tcp_target = tcp::endpoint(asio::ip::make_address(e.host), e.port);
  impl_->tls = client_tls(e);
  impl_->token = token_for(e);
}

void Dialer::dial(DialHandler handler) {
  auto& d = *impl_;
  if (!d.endpoint.hc) {
    auto socket = std::make_shared<tcp::socket>(d.io);
    socket->async_connect(d.tcp_target, [socket, h = std::move(handler)](std::error_code ec) {
      if (ec) return h(ec, "connect: " + ec.message(), nullptr);
      h(ec, {}, std::make_shared<TcpConn>(std::move(*socket)));
    });
    return;
  }
  net::ClientOptions options;
  options.tls = d.tls;
  if (!d.token.empty()) options.headers.add("ServiceBusAuthorization", d.token);
  const auto url =
      hc::connect_url(d.endpoint.tls, d.endpoint.host, d.endpoint.port, d.endpoint.hc_name, hc::new_guid());
  net::async_ws_connect(d.io, url, options, [h = std::move(handler)](std::error_code ec, net::ConnectResult r) {
    if (ec || !r.ws)
      return h(ec ? ec : std::make_error_code(std::errc::protocol_error), "hc connect: " + describe(ec, r), nullptr);
    h(ec, {}, std::make_shared<WsConn>(r.ws));
  });
}

// ------------------------------------------------------------------------------------------------------------------

struct Listener::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, Endpoint e, AcceptHandler h)
      : io(io), endpoint(std::move(e)), on_conn(std::move(h)), acceptor(io) {}

  asio::io_context& io;
  Endpoint endpoint;
  AcceptHandler on_conn;
  tcp::acceptor acceptor;
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<net::WebSocket> control;
  std::vector<uint8_t> chunk = std::vector<uint8_t>(64 << 10);
  std::string message;
  bool stopped = false;

  void accept_tcp() {
    acceptor.async_accept([self = shared_from_this()](std::error_code ec, tcp::socket socket) {
      if (self->stopped) return;
      if (!ec) self->on_conn(std::make_shared<TcpConn>(std::move(socket)));
      // EMFILE and friends: keep accepting; the client sees its connection fail and reports it.
      self->accept_tcp();
    });
  }

  // Control channel: collect each text message, dial the rendezvous of every accept.
  void read_control() {
    control->async_read(asio::buffer(chunk), [self = shared_from_this()](std::error_code ec, net::ReadChunk c) {
      if (ec || self->stopped) return;
      self->message.append(reinterpret_cast<const char*>(self->chunk.data()), c.size);
      if (c.message_end) {
        auto parsed = hc::parse_control_message(self->message);
        self->message.clear();
        if (parsed.ok())
          if (auto* accept = std::get_if<hc::AcceptMessage>(&parsed.value())) self->rendezvous(accept->address);
      }
      self->read_control();
    });
  }

  void rendezvous(const std::string& address) {
    net::ClientOptions options;
    options.tls = tls;
    net::async_ws_connect(io, address, options, [self = shared_from_this()](std::error_code ec, net::ConnectResult r) {
      if (ec || !r.ws || self->stopped) return;  // the sender sees its connect fail
      self->on_conn(std::make_shared<WsConn>(r.ws));
    });
  }
};

Listener::Listener(asio::io_context& io, Endpoint e, AcceptHandler on_conn)
    : impl_(std::make_shared<Impl>(io, std::move(e), std::move(on_conn))) {}

Listener::~Listener() { stop(); }

void Listener::start(std::function<void(std::error_code, const std::string&, uint16_t)> on_ready) {
  auto& d = *impl_;
  if (!d.endpoint.hc) {
    std::error_code ec;
    const tcp::endpoint where(asio::ip::make_address(d.endpoint.host), d.endpoint.port);
    d.acceptor.open(where.protocol(), ec);
    if (!ec) d.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) d.acceptor.bind(where, ec);
    if (!ec) d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return on_ready(ec, "listen: " + ec.message(), 0);
    d.accept_tcp();
    return on_ready({}, {}, d.acceptor.local_endpoint().port());
  }
  d.tls = client_tls(d.endpoint);
  net::ClientOptions options;
  options.tls = d.tls;
  const auto token = token_for(d.endpoint);
  if (!token.empty()) options.headers.add("ServiceBusAuthorization", token);
  const auto url = hc::listen_url(d.endpoint.tls, d.endpoint.host, d.endpoint.port, d.endpoint.hc_name, hc::new_guid());
  net::async_ws_connect(d.io, url, options,
                        [self = impl_, on_ready = std::move(on_ready)](std::error_code ec, net::ConnectResult r) {
                          if (ec || !r.ws)
                            return on_ready(ec ? ec : std::make_error_code(std::errc::protocol_error),
                                            "hc listen: " + describe(ec, r), 0);
                          self->control = r.ws;
                          self->read_control();
                          on_ready({}, {}, 0);
                        });
}

void Listener::stop() {
  impl_->stopped = true;
  asio::error_code ignored;
  impl_->acceptor.close(ignored);
  if (impl_->control && impl_->control->is_open()) impl_->control->abort();
}

}  // namespace bench
