// hcbridge -H against the fake relay (fake_relay.hpp) playing the service's HTTP request mode, and a local web server
// (web_server.hpp): requests on the control channel (body as the next binary message) and rendezvous-only requests,
// answers on the control channel or over a rendezvous, byte-exact by SHA-256; the path-escape cases; a web server that
// never answers; the forwarding headers.
#include "fake_relay.hpp"
#include "web_server.hpp"

#include <rapidjson/document.h>

using testing::FakeRelay;
using testing::run_until;
using Op = net::ws::Opcode;
using namespace std::chrono_literals;

namespace {

struct HttpHarness {
  explicit HttpHarness(const std::function<void(bridge::HttpTarget&)>& tweak = {}) {
    config = testing::tunnel_pair_config(fake.endpoint(), testing::kTestRelayKey, "web");
    config.local_forwards.clear();
    bridge::HttpTarget t;
    t.host = "127.0.0.1";
    t.port = web.port();
    t.base_path = "/app";
    if (tweak) tweak(t);
    if (t.port != 0) config.remote_forwards[0].http = t;
    else config.remote_forwards[0].targets.push_back(testing::port_target("80", "127.0.0.1", 80));
    daemon = std::make_unique<bridge::Daemon>(io, config);
    REQUIRE_FALSE(daemon->start().has_value());
    REQUIRE(run_until(io, [this] { return (control = fake.live_control()) && daemon->remote_forwarders().at(0)->connected(); }));
  }
  ~HttpHarness() { testing::stop_daemon_and_drop(io, daemon.get(), fake); }
  std::string address(const std::string& id) const {
    return "ws://127.0.0.1:" + std::to_string(fake.port()) + "/$hc/web?sb-hc-action=request&sb-hc-id=" + id;
  }
  hc::RequestMessage request(const std::string& id, const std::string& method, const std::string& target) const {
    hc::RequestMessage r;
    r.address = address(id);
    r.id = id;
    r.method = method;
    r.request_target = target;
    r.request_headers = {{"Host", "ns.example"}, {"Via", "1.1 ns.example"}, {"User-Agent", "test"}};
    r.remote_address = "198.51.100.9";
    r.remote_port = 50000;
    return r;
  }
  double requests(const char* code) {
    return daemon->metrics().value("hcbridge_http_requests_total", {{"forward", "T:web"}, {"code", code}});
  }

  asio::io_context io;
  FakeRelay fake{io};
  testing::WebServer web{io};
  bridge::Config config;
  std::unique_ptr<bridge::Daemon> daemon;
  FakeRelay::ConnPtr control;
};

struct Answer {
  int status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  // lower-cased names
  bool body_flag = false;
  std::string body;
  bool on_rendezvous = false;
};

// The answer to `id` on `c` once it is complete (its body message ended), from frame `from` on.
std::optional<Answer> find_answer(FakeRelay::Conn& c, const std::string& id) {
  c.parse();
  for (std::size_t i = 0; i < c.frames.size(); ++i) {
    if (c.frames[i].opcode != Op::text) continue;
    rapidjson::Document d;
    d.Parse(c.frames[i].payload.c_str());
    if (d.HasParseError() || !d.HasMember("response") || d["response"]["requestId"].GetString() != id) continue;
    const auto& r = d["response"];
    Answer a;
    a.status = r["statusCode"].GetInt();
    if (r.HasMember("statusDescription")) a.reason = r["statusDescription"].GetString();
    for (auto m = r["responseHeaders"].MemberBegin(); m != r["responseHeaders"].MemberEnd(); ++m)
      a.headers[hc::ascii_lower(m->name.GetString())] = m->value.GetString();
    a.body_flag = r["body"].GetBool();
    if (!a.body_flag) return a;
    for (std::size_t j = i + 1; j < c.frames.size(); ++j) {
      if (net::ws::is_control(c.frames[j].opcode)) continue;
      a.body += c.frames[j].payload;
      if (c.frames[j].fin) return a;
    }
    return std::nullopt;  // the body is still coming
  }
  return std::nullopt;
}

// Sends a control-channel request (and its body) and waits for the answer, on the control channel or a rendezvous.
Answer ask(HttpHarness& h, const hc::RequestMessage& r, const std::string& body = {}, std::chrono::milliseconds timeout = 10s) {
  hc::RequestMessage m = r;
  m.body = !body.empty();
  std::string wire = testing::server_frame(Op::text, hc::build_request_message(m));
  if (m.body) wire += testing::server_frame(Op::binary, body);
  h.control->send(wire);
  std::optional<Answer> a;
  REQUIRE(run_until(h.io, [&] {
    if ((a = find_answer(*h.control, r.id))) return true;
    for (const auto& c : h.fake.with_action("request"))
      if (c->id == r.id && (a = find_answer(*c, r.id))) {
        a->on_rendezvous = true;
        return true;
      }
    return false;
  }, timeout));
  return *a;
}

// A rendezvous-only request: the address on the control channel, then the request and its body (in `pieces`
// frames) on the rendezvous the daemon dials.
Answer ask_over_rendezvous(HttpHarness& h, const hc::RequestMessage& r, const std::string& body, std::size_t pieces = 3) {
  hc::RequestMessage only;
  only.address = r.address;
  only.id = r.id;
  only.rendezvous_only = true;
  h.control->send_text(hc::build_request_message(only));
  FakeRelay::ConnPtr rv;
  REQUIRE(run_until(h.io, [&] {
    for (const auto& c : h.fake.with_action("request"))
      if (c->id == r.id) rv = c;
    return rv != nullptr;
  }));
  hc::RequestMessage full = r;
  full.address.clear();
  full.body = !body.empty();
  rv->send_text(hc::build_request_message(full));
  const std::size_t step = body.size() / pieces + 1;
  for (std::size_t at = 0; at < body.size(); at += step)
    rv->send_frame(at == 0 ? Op::binary : Op::continuation, std::string_view(body).substr(at, step), at + step >= body.size());
  std::optional<Answer> a;
  REQUIRE(run_until(h.io, [&] { return (a = find_answer(*rv, r.id)).has_value(); }));
  a->on_rendezvous = true;
  return *a;
}

std::string hex(const std::string& s) { return testing::sha256(s); }

}  // namespace

TEST_CASE("http forward (-H): GET, HEAD, 204 and a redirect on the control channel, mapped to base path + remainder") {
  HttpHarness h;
  auto a = ask(h, h.request("g1", "GET", "/web/hello?x=1"));
  CHECK(a.status == 200);
  CHECK(a.body == "ok");
  CHECK_FALSE(a.on_rendezvous);
  CHECK(a.headers["via"] == "1.1 hcbridge");
  CHECK(a.headers.count("content-length") == 0);
  REQUIRE(h.web.seen.size() == 1);
  CHECK(h.web.seen[0].head.target == "/app/hello?x=1");
  const auto& sent = h.web.seen[0].head.headers;
  CHECK(*sent.find("Host") == "127.0.0.1:" + std::to_string(h.web.port()));
  CHECK(*sent.find("X-Forwarded-For") == "198.51.100.9");
  CHECK(*sent.find("X-Forwarded-Host") == "ns.example");
  CHECK(*sent.find("X-Forwarded-Proto") == "http");  // the fake relay speaks ws://
  CHECK(*sent.find("Via") == "1.1 ns.example, 1.1 hcbridge");

  a = ask(h, h.request("h1", "HEAD", "/web/size/1000"));
  CHECK(a.status == 200);
  CHECK_FALSE(a.body_flag);
  a = ask(h, h.request("e1", "GET", "/web/empty"));
  CHECK(a.status == 204);
  CHECK_FALSE(a.body_flag);
  a = ask(h, h.request("r1", "GET", "/web/redirect"));
  CHECK(a.status == 302);  // passed through, not followed
  CHECK(a.headers["location"] == "/elsewhere");
  CHECK(h.web.seen.size() == 4);
  CHECK(h.requests("2xx") == 3);
  CHECK(h.requests("3xx") == 1);
}

TEST_CASE("http forward (-H): bodies of 0, 65,535, 65,536 and 65,537 bytes each way, byte-exact") {
  HttpHarness h;
  for (std::size_t n : {std::size_t(0), std::size_t(65535), std::size_t(65536), std::size_t(65537)}) {
    INFO("size " << n);
    const std::string id = "s" + std::to_string(n);
    // Download: the control channel up to 64 KiB, a rendezvous above.
    auto a = ask(h, h.request(id, "GET", "/web/size/" + std::to_string(n)));
    CHECK(a.status == 200);
    CHECK(a.body.size() == n);
    CHECK(hex(a.body) == hex(testing::random_payload(n, n)));
    CHECK(a.on_rendezvous == (n > 65536));
    // Upload on the control channel (the relay sends at most 64 KiB there) and echo.
    if (n <= 65536) {
      const std::string up = testing::random_payload(n, n + 1);
      auto e = ask(h, h.request("u" + id, "POST", "/web/echo"), up);
      CHECK(e.status == 200);
      CHECK(hex(e.body) == hex(up));
      CHECK(h.web.seen.back().body.size() == n);
    }
    // Upload over a rendezvous (rendezvous-only form, streamed chunked to the server) and echo back there.
    const std::string up = testing::random_payload(n, n + 2);
    auto r = ask_over_rendezvous(h, h.request("v" + id, "POST", "/web/echo"), up);
    CHECK(r.status == 200);
    CHECK(hex(r.body) == hex(up));
    CHECK(hex(h.web.seen.back().body) == hex(up));
  }
}

TEST_CASE("http forward (-H): a large chunked download streams over a rendezvous, byte-exact") {
  HttpHarness h;
  // Far past the 64 KiB of the control form either way; smaller under the sanitizers, where the test's own polling
  // (it parses all it has received on every turn) made 3 MiB take 30 s under TSan.
#ifdef HCB_SANITIZED_BUILD
  const std::size_t n = 1024 * 1024 + 17;
#else
  const std::size_t n = 3 * 1024 * 1024 + 17;
#endif
  auto a = ask(h, h.request("big", "GET", "/web/chunked/" + std::to_string(n)), {}, 60s);
  CHECK(a.status == 200);
  CHECK(a.on_rendezvous);
  CHECK(a.body.size() == n);
  CHECK(hex(a.body) == hex(testing::random_payload(n, n)));
  CHECK(h.daemon->metrics().value("hcbridge_http_bytes_total", {{"forward", "T:web"}, {"direction", "to_relay"}}) == n);
}

TEST_CASE("http forward (-H): paths that would leave the base path or name another host are refused with 400") {
  HttpHarness h;
  int i = 0;
  for (const char* target : {"/web//evil/x", "/web/%2F%2Fevil/x", "/web/../secret", "/web/%2e%2e/secret", "/webx/a",
                             "/web/%5Cevil"}) {
    INFO(target);
    auto a = ask(h, h.request("p" + std::to_string(i++), "GET", target));
    CHECK(a.status == 400);
  }
  CHECK(h.web.seen.empty());  // none of them reached the web server
  CHECK(h.requests("4xx") == 6);
}

TEST_CASE("http forward (-H): a web server that never answers gives 504 in time, and one that is down gives 502") {
  HttpHarness h([](bridge::HttpTarget& t) { t.response_timeout = bridge::Seconds(0.5); });
  testing::LogCapture log("hang");
  const auto t0 = std::chrono::steady_clock::now();
  auto a = ask(h, h.request("slow", "GET", "/web/hang"));
  CHECK(a.status == 504);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(log.lines() == 1);
  CHECK(log.last().find("slow") != std::string::npos);  // the request id, to find it in the relay's logs too

  HttpHarness down([](bridge::HttpTarget& t) {
    asio::io_context tmp;
    asio::ip::tcp::acceptor a(tmp, {asio::ip::make_address("127.0.0.1"), 0});
    t.port = a.local_endpoint().port();  // closed again at once: nothing listens there
  });
  auto b = ask(down, down.request("down", "GET", "/web/x"));
  CHECK(b.status == 502);
}

TEST_CASE("http forward (-H): a web server that stalls in the middle of a streamed body is cut off after the timeout") {
  HttpHarness h([](bridge::HttpTarget& t) { t.response_timeout = bridge::Seconds(0.5); });
  testing::LogCapture log("stalled");
  h.control->send_text(hc::build_request_message(h.request("st", "GET", "/web/stall")));
  FakeRelay::ConnPtr rv;
  REQUIRE(run_until(h.io, [&] {
    for (const auto& c : h.fake.with_action("request"))
      if (c->id == "st") rv = c;
    return rv != nullptr;
  }));
  const auto t0 = std::chrono::steady_clock::now();
  // The head and the 10 bytes went out; then the rendezvous is dropped (an abort: the sender must not take a
  // truncated body for a whole one), the request counted and logged.
  REQUIRE(run_until(h.io, [&] { return rv->ended; }, 10s));
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  rv->parse();
  REQUIRE_FALSE(rv->frames.empty());
  CHECK(rv->frames[0].opcode == Op::text);
  CHECK(rv->data().size() >= 10);
  CHECK_FALSE(rv->close_code().has_value());
  CHECK(log.lines() == 1);
  CHECK(h.requests("5xx") == 1);  // counted as failed, whatever the head said
}

TEST_CASE("http forward (-H): a relay that stops reading a streamed answer is cut off after write_timeout") {
  HttpHarness h([](bridge::HttpTarget& t) { t.write_timeout = bridge::Seconds(0.5); });
  testing::LogCapture log("wt1");
  // 32 MiB: more than the socket buffers between the web server, the daemon and the fake relay hold.
  h.control->send_text(hc::build_request_message(h.request("wt1", "GET", "/web/size/33554432")));
  FakeRelay::ConnPtr rv;
  REQUIRE(run_until(h.io, [&] {
    for (const auto& c : h.fake.with_action("request"))
      if (c->id == "wt1") rv = c;
    return rv != nullptr;
  }));
  rv->pause_reading = true;  // the relay takes nothing more
  const auto t0 = std::chrono::steady_clock::now();
  const auto aborted = [&] {
    return h.daemon->metrics().value("hcbridge_http_aborted_total", {{"forward", "T:web"}, {"reason", "relay_write_timeout"}});
  };
  REQUIRE(run_until(h.io, [&] { return aborted() == 1 && h.web.broken_answers == 1; }, 20s));
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  CHECK(log.lines() == 1);  // one warning, naming the request
  CHECK(log.last().find("write_timeout") != std::string::npos);
  CHECK(h.requests("2xx") == 1);  // the head had gone out: counted, with the bytes that made it
  // The rendezvous was dropped, not closed: the sender must not take the cut body for a whole one.
  if (rv->resume_reading) rv->resume_reading();
  REQUIRE(run_until(h.io, [&] { return rv->ended; }, 10s));
  rv->parse();
  CHECK_FALSE(rv->close_code().has_value());
  CHECK(rv->data().size() < 33554432);
}

TEST_CASE("http forward (-H): requests over the in-flight limit are answered 503") {
  HttpHarness h([](bridge::HttpTarget& t) { t.max_requests = 1; });
  hc::RequestMessage hang = h.request("hang1", "GET", "/web/hang");
  h.control->send_text(hc::build_request_message(hang));
  REQUIRE(run_until(h.io, [&] { return h.web.seen.size() == 1; }));
  auto a = ask(h, h.request("over", "GET", "/web/x"));
  CHECK(a.status == 503);
}

TEST_CASE("http forward (-H): without a web server the listener still answers 501") {
  HttpHarness h([](bridge::HttpTarget& t) { t.port = 0; });  // port 0: the harness publishes no web server
  auto a = ask(h, h.request("n1", "GET", "/web/x"));
  CHECK(a.status == 501);
}
