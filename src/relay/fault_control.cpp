#include "relay/fault_control.hpp"

#include "hc/url.hpp"
#include "relay/fault_injector.hpp"
#include "relay/relay_server.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>

namespace relay {
namespace {

std::optional<long> number(const std::vector<hc::QueryParam>& query, std::string_view key) {
  const auto text = hc::find_param(query, key);
  if (!text || text->empty()) return std::nullopt;
  long v = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return v;
}

// on=1 / on=0; nullopt when missing or anything else.
std::optional<bool> flag(const std::vector<hc::QueryParam>& query) {
  const auto v = number(query, "on");
  if (!v || (*v != 0 && *v != 1)) return std::nullopt;
  return *v == 1;
}

std::string state_json(const RelayServer& s, const FaultInjector& injector, const std::string& result = {}) {
  const auto& f = injector.faults();
  std::string head = "{";
  if (!result.empty()) head += "\"result\":\"" + result + "\",";  // our own fixed texts: nothing to escape
  return head + "\"listeners\":" + std::to_string(s.listener_count()) +
         ",\"tunnels\":" + std::to_string(s.tunnel_count()) + ",\"pending_senders\":" + std::to_string(s.pending_count()) +
         ",\"held\":" + std::to_string(injector.held_count()) +
         ",\"refuse_listeners\":" + (f.refuse_listeners ? "true" : "false") +
         ",\"upgrade_status\":" + std::to_string(injector.upgrade_status_active() ? f.upgrade_status : 0) +
         ",\"stall_rendezvous\":" + (f.stall_rendezvous ? "true" : "false") +
         ",\"blackhole\":" + (f.blackhole ? "true" : "false") +
         ",\"silent_listeners\":" + (f.silent_listeners ? "true" : "false") + "}\n";
}

}  // namespace

FaultControl::FaultControl(asio::io_context& io, RelayServer& server, FaultInjector& faults,
                           asio::ip::tcp::endpoint endpoint)
    : io_(io), server_(server), faults_(faults), endpoint_(endpoint), acceptor_(io) {}

FaultControl::~FaultControl() {
  stop();
  alive_.reset();
}

hc::Result<asio::ip::tcp::endpoint> FaultControl::start() {
  if (!endpoint_.address().is_loopback())
    return hc::fail("--fault-control must be a loopback address (127.0.0.1 or ::1), got " + endpoint_.address().to_string());
  std::error_code ec;
  acceptor_.open(endpoint_.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint_, ec);
  if (!ec) acceptor_.listen(16, ec);
  if (ec) return hc::fail("--fault-control: cannot listen on port " + std::to_string(endpoint_.port()) + ": " + ec.message());
  const auto local = acceptor_.local_endpoint(ec);
  do_accept();
  return local;
}

void FaultControl::stop() {
  std::error_code ignored;
  acceptor_.close(ignored);
}

void FaultControl::do_accept() {
  acceptor_.async_accept([this, alive = std::weak_ptr<int>(alive_)](std::error_code ec, asio::ip::tcp::socket socket) {
    if (alive.expired() || ec == asio::error::operation_aborted) return;
    if (!ec) {
      net::async_read_request(
          std::make_unique<net::Stream>(std::move(socket)), std::chrono::seconds(5),
          [this, alive](std::error_code rec, net::IncomingRequestPtr request, std::string) {
            if (alive.expired() || rec || !request) return;
            auto [status, body] = handle(request->head.method, request->head.target);
            auto response = std::make_shared<std::string>(net::http::build_response(
                status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request",
                net::http::Headers{}, body));
            request->stream->async_write(asio::buffer(*response), [request, response](std::error_code, std::size_t) {
              request->stream->close();
            });
          });
    }
    do_accept();
  });
}

std::pair<int, std::string> FaultControl::handle(const std::string& method, const std::string& target) {
  const auto [path, raw_query] = net::http::split_target(target);
  const auto query = hc::parse_query(raw_query);
  if (path == "/faults" && method == "GET") return {200, state_json(server_, faults_)};
  if (method != "POST") return {400, "use POST /faults/<command> (or GET /faults)\n"};
  const auto bad = [](const std::string& what) { return std::pair<int, std::string>{400, what + "\n"}; };
  std::string done;
  if (path == "/faults/drop-control") {
    const auto code_text = hc::find_param(query, "code").value_or("");
    const auto code = number(query, "code");
    if (code_text != "none" && !(code && *code >= 1000 && *code <= 4999))
      return bad("code must be none (TCP drop, no close frame) or a close code 1000..4999");
    const std::size_t n = server_.drop_control_channels(code_text == "none" ? 0 : static_cast<uint16_t>(*code));
    done = "dropped " + std::to_string(n) + " control channel(s) (" + (code_text == "none" ? "no close frame" : "close " + code_text) + ")";
  } else if (path == "/faults/refuse-listeners") {
    const auto on = flag(query);
    if (!on) return bad("on must be 0 or 1");
    faults_.set_refuse_listeners(*on);
    done = std::string("refuse new listeners (503): ") + (*on ? "on" : "off");
  } else if (path == "/faults/upgrade-status") {
    const auto status = number(query, "status");
    const auto count = number(query, "count");
    const auto seconds = number(query, "seconds");
    if (!status || (*status != 0 && (*status < 400 || *status > 599)))
      return bad("status must be 0 (off) or 400..599");
    if (*status != 0 && (count.has_value() == seconds.has_value() || (count && (*count < 1 || *count > 1000000)) ||
                         (seconds && (*seconds < 1 || *seconds > 86400))))
      return bad("give exactly one of count=1..1000000 and seconds=1..86400");
    faults_.set_upgrade_status(static_cast<int>(*status), count ? static_cast<unsigned>(*count) : 0,
                               std::chrono::seconds(seconds.value_or(0)));
    done = *status == 0 ? std::string("upgrade status: off")
                        : "upgrade status " + std::to_string(*status) + " for " +
                              (count ? std::to_string(*count) + " listen/connect request(s)" : std::to_string(*seconds) + " s");
  } else if (path == "/faults/stall-rendezvous") {
    const auto on = flag(query);
    if (!on) return bad("on must be 0 or 1");
    faults_.set_stall_rendezvous(*on);
    done = std::string("stall rendezvous: ") + (*on ? "on" : "off (held ones released)");
  } else if (path == "/faults/blackhole-after-accept") {
    const auto on = flag(query);
    if (!on) return bad("on must be 0 or 1");
    faults_.set_blackhole(*on);
    done = std::string("black hole after accept: ") + (*on ? "on" : "off (held connections closed)");
  } else if (path == "/faults/silent-listeners") {
    const auto on = flag(query);
    if (!on) return bad("on must be 0 or 1");
    faults_.set_silent_listeners(*on);
    done = std::string("silent listeners: ") + (*on ? "on" : "off (held control channels dropped)");
  } else if (path == "/faults/reset") {
    faults_.clear();
    done = "all faults off";
  } else {
    return {404, "unknown command; see docs/testing.md\n"};
  }
  spdlog::warn("relay: fault control: {}", done);
  return {200, state_json(server_, faults_, done)};
}

}  // namespace relay
