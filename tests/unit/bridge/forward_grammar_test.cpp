#include <catch2/catch.hpp>

#include "bridge/forward_grammar.hpp"
#include "support/temp_file.hpp"

#include <string>

using namespace bridge;
using testing::contains;

namespace {

std::string local_error(const std::string& expr) {
  auto r = parse_local_forward(expr);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

std::string remote_error(const std::string& expr) {
  auto r = parse_remote_forward(expr);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

std::string legacy_error(const std::string& expr) {
  auto r = parse_legacy_remote_forward(expr);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

// ---- -L ----

TEST_CASE("grammar: -L port:hc binds loopback with the port number as port name", "[grammar]") {
  auto r = parse_local_forward("8080:web");
  REQUIRE(r.ok());
  CHECK(r->hc == "web");
  REQUIRE(r->bindings.size() == 1);
  CHECK(r->bindings[0].bind_host == "127.0.0.1");
  CHECK(r->bindings[0].port == 8080);
  CHECK(r->bindings[0].port_name == "8080");
  CHECK_FALSE(r->raw);
  CHECK_FALSE(r->relay.has_value());
}

TEST_CASE("grammar: -L with bind address, port name and hc containing '/'", "[grammar]") {
  auto r = parse_local_forward("10.1.2.3:1433/sql:team/db");
  REQUIRE(r.ok());
  CHECK(r->hc == "team/db");
  CHECK(r->bindings[0].bind_host == "10.1.2.3");
  CHECK(r->bindings[0].port == 1433);
  CHECK(r->bindings[0].port_name == "sql");

  auto named = parse_local_forward("localhost:80/http:web");
  REQUIRE(named.ok());
  CHECK(named->bindings[0].bind_host == "localhost");
  CHECK(named->bindings[0].port_name == "http");

  auto port_only_name = parse_local_forward("13389/3389:rdp");
  REQUIRE(port_only_name.ok());
  CHECK(port_only_name->bindings[0].bind_host == "127.0.0.1");
  CHECK(port_only_name->bindings[0].port == 13389);
  CHECK(port_only_name->bindings[0].port_name == "3389");

  auto slashy = parse_local_forward("8080/a/b:hc");
  REQUIRE(slashy.ok());
  CHECK(slashy->bindings[0].port_name == "a/b");
}

TEST_CASE("grammar: -L IPv6 bind addresses in brackets", "[grammar]") {
  auto r = parse_local_forward("[::1]:8080:web");
  REQUIRE(r.ok());
  CHECK(r->bindings[0].bind_host == "::1");
  CHECK(r->bindings[0].port == 8080);
  CHECK(r->hc == "web");

  auto all = parse_local_forward("[::]:8080/x:web");
  REQUIRE(all.ok());
  CHECK(all->bindings[0].bind_host == "::");
  CHECK(all->bindings[0].port_name == "x");

  auto full = parse_local_forward("[fe80::1%eth0]:22:ssh");
  REQUIRE(full.ok());
  CHECK(full->bindings[0].bind_host == "fe80::1%eth0");

  CHECK(contains(local_error("::1:8080:web"), "brackets"));
  CHECK(contains(local_error("[::1:8080:web"), "missing ']'"));
  CHECK(contains(local_error("[]:8080:web"), "empty IPv6"));
  CHECK(contains(local_error("[127.0.0.1]:8080:web"), "only for IPv6"));
  CHECK(contains(local_error("[::zz]:8080:web"), "not a valid IPv6 address"));
  CHECK(contains(local_error("[::1]x8080:web"), "expected ':port'"));
}

TEST_CASE("grammar: -L all-interfaces only when asked", "[grammar]") {
  auto star = parse_local_forward("*:8080:web");
  REQUIRE(star.ok());
  CHECK(star->bindings[0].bind_host == "0.0.0.0");
  auto zeros = parse_local_forward("0.0.0.0:8080:web");
  REQUIRE(zeros.ok());
  CHECK(zeros->bindings[0].bind_host == "0.0.0.0");
}

TEST_CASE("grammar: -L several bindings separated by semicolons", "[grammar]") {
  auto r = parse_local_forward("127.0.0.8:1433/a;127.0.0.9:1433/b;[::1]:1434:relay");
  REQUIRE(r.ok());
  CHECK(r->hc == "relay");
  REQUIRE(r->bindings.size() == 3);
  CHECK(r->bindings[0].bind_host == "127.0.0.8");
  CHECK(r->bindings[0].port_name == "a");
  CHECK(r->bindings[1].bind_host == "127.0.0.9");
  CHECK(r->bindings[1].port_name == "b");
  CHECK(r->bindings[2].bind_host == "::1");
  CHECK(r->bindings[2].port == 1434);
  CHECK(r->bindings[2].port_name == "1434");

  CHECK(contains(local_error("8080;;9090:web"), "empty binding"));
  CHECK(contains(local_error(";8080:web"), "empty binding"));
  CHECK(contains(local_error("8080;:web"), "empty binding"));
}

TEST_CASE("grammar: -L port numbers: range and form", "[grammar]") {
  CHECK(parse_local_forward("1:a").ok());
  CHECK(parse_local_forward("65535:a").ok());
  auto zero_padded = parse_local_forward("08080:a");
  REQUIRE(zero_padded.ok());
  CHECK(zero_padded->bindings[0].port == 8080);
  CHECK(zero_padded->bindings[0].port_name == "8080");

  const std::string zero = local_error("0:web");
  CHECK(contains(zero, "out of range"));
  CHECK(contains(zero, "'0:web'"));  // the expression is quoted
  CHECK(contains(local_error("65536:web"), "out of range"));
  CHECK(contains(local_error("99999999999999999999:web"), "out of range"));
  CHECK(contains(local_error("-1:web"), "not a port number"));
  CHECK(contains(local_error("80a:web"), "not a port number"));
  CHECK(contains(local_error("127.0.0.1::web"), "missing port"));
  CHECK(contains(local_error(" 8080:web"), "not a port number"));
}

TEST_CASE("grammar: -L missing or bad parts name the part and what was expected", "[grammar]") {
  const std::string empty = local_error("");
  CHECK(contains(empty, "empty"));
  CHECK(contains(empty, "expected [bind_addr:]port"));

  const std::string no_hc = local_error("8080");
  CHECK(contains(no_hc, "missing ':hc'"));
  CHECK(contains(no_hc, "'8080'"));

  CHECK(contains(local_error("8080:"), "missing hybrid connection name"));
  CHECK(contains(local_error(":web"), "missing port"));
  CHECK(contains(local_error("8080/:web"), "empty port name"));
  CHECK(contains(local_error(":8080:web"), "empty bind address"));
  CHECK(contains(local_error("bad host:8080:web"), "not a valid host name"));
  CHECK(contains(local_error("256.1.1.1:8080:web"), "not a valid host name"));
  CHECK(contains(local_error("8080/bad name:web"), "port name"));
  CHECK(contains(local_error("8080/" + std::string(256, 'p') + ":web"), "port name"));
  CHECK(contains(local_error("8080:we$b"), "hybrid connection name"));
  CHECK(contains(local_error("8080:/web"), "starts with '/'"));
  CHECK(contains(local_error("8080:web/"), "ends with '/'"));
  CHECK(contains(local_error("8080:a//b"), "'//'"));
  // A forgotten ":hc" makes the port look like the name; the message says so.
  CHECK(contains(local_error("127.0.0.1:8080"), "':hc' part missing"));
  CHECK(contains(local_error("[::1]:8080"), "':hc' part missing"));
}

TEST_CASE("grammar: -L takes UDP ports with azbridge's U suffix and default name", "[grammar]") {
  auto f = parse_local_forward("5353U:dns");
  REQUIRE(f.ok());
  CHECK(f->bindings[0].protocol == Protocol::udp);
  CHECK(f->bindings[0].port == 5353);
  CHECK(f->bindings[0].port_name == "5353U");  // azbridge's default name for UDP
  auto g = parse_local_forward("127.0.0.1:5353u/dns;[::1]:5354U;8080:hc");
  REQUIRE(g.ok());
  CHECK(g->bindings[0].protocol == Protocol::udp);
  CHECK(g->bindings[0].port_name == "dns");
  CHECK(g->bindings[1].bind_host == "::1");
  CHECK(g->bindings[1].port_name == "5354U");
  CHECK(g->bindings[2].protocol == Protocol::tcp);
  CHECK(g->bindings[2].port_name == "8080");
  CHECK(contains(local_error("70000U:dns"), "UDP port '70000' is out of range"));
  CHECK(contains(local_error("0U:dns"), "out of range"));
  CHECK(contains(local_error("U:dns"), "not a port number"));
}

TEST_CASE("grammar: -L takes Unix sockets as port_name/unix:PATH, the socket text being the default name", "[grammar]") {
  auto f = parse_local_forward("unix:/run/app/app.sock:web");
  REQUIRE(f.ok());
  REQUIRE(f->bindings.size() == 1);
  CHECK(f->hc == "web");
  CHECK(f->bindings[0].protocol == Protocol::unix_socket);
  CHECK(f->bindings[0].socket_path == "/run/app/app.sock");
  CHECK(f->bindings[0].port_name == "/run/app/app.sock");  // azbridge's choice: the socket text
  CHECK(f->bindings[0].socket_file.mode == 0660);
  auto g = parse_local_forward("api/v1/unix:/run/a:b.sock;8080/web;unix:rel/x.sock:hc");
  REQUIRE(g.ok());
  REQUIRE(g->bindings.size() == 3);
  CHECK(g->hc == "hc");
  CHECK(g->bindings[0].port_name == "api/v1");
  CHECK(g->bindings[0].socket_path == "/run/a:b.sock");  // the LAST ':' separates the hc, so ':' in a path is fine
  CHECK(g->bindings[1].protocol == Protocol::tcp);
  CHECK(g->bindings[2].socket_path == "rel/x.sock");
  CHECK(g->bindings[2].port_name == "rel/x.sock");
  // azbridge's relative form: a name that starts with a letter, in the working directory.
  auto r = parse_local_forward("app.sock/web;docker.sock:hc");
  REQUIRE(r.ok());
  CHECK(r->bindings[0].protocol == Protocol::unix_socket);
  CHECK(r->bindings[0].socket_path == "app.sock");
  CHECK(r->bindings[0].port_name == "web");
  CHECK(r->bindings[1].socket_path == "docker.sock");
  CHECK(r->bindings[1].port_name == "docker.sock");
  // "unix:" followed by a port is still a host called unix.
  auto host = parse_local_forward("unix:8080:hc");
  REQUIRE(host.ok());
  CHECK(host->bindings[0].protocol == Protocol::tcp);
  CHECK(host->bindings[0].bind_host == "unix");
}

TEST_CASE("grammar: -L Unix socket errors", "[grammar]") {
  // An absolute path without "unix:" cannot carry a name in azbridge's grammar: the message shows the form to use.
  CHECK(contains(local_error("/var/run/app.sock:web"), "a Unix socket is written unix:PATH"));
  CHECK(contains(local_error("./sock:web"), "unix:PATH"));
  CHECK(contains(local_error("unix::web"), "empty Unix socket path"));
  CHECK(contains(local_error("unix:@abstract:web"), "abstract Unix sockets"));
  const std::string too_long = local_error("unix:/tmp/" + std::string(103, 's') + ":web");
  CHECK(contains(too_long, "is 108 bytes long; a socket path holds at most 107"));
  CHECK(contains(local_error("/unix:/a.sock:web"), "empty port name"));
  CHECK(contains(local_error("a b/unix:/a.sock:web"), "port name 'a b' is invalid"));
  CHECK(contains(local_error("unix:/run/my app.sock:web"), "cannot be its own port name"));
  CHECK(contains(local_error("unix:/run/my app.sock:web"), "app/unix:/run/my app.sock"));
  CHECK(contains(local_error("80a:web"), "not a port number"));  // a relative socket name starts with a letter
  CHECK(contains(local_error("localhost:app.sock:web"), "not a port number"));
}

// ---- -T ----

TEST_CASE("grammar: -T hc:port targets localhost with the port number as name", "[grammar]") {
  auto r = parse_remote_forward("web:80");
  REQUIRE(r.ok());
  CHECK(r->hc == "web");
  REQUIRE(r->targets.size() == 1);
  CHECK(r->targets[0].host == "localhost");
  CHECK(r->targets[0].port == 80);
  CHECK(r->targets[0].port_name == "80");
}

TEST_CASE("grammar: -T all azbridge forms", "[grammar]") {
  auto host = parse_remote_forward("web:10.0.0.5:8080");
  REQUIRE(host.ok());
  CHECK(host->targets[0].host == "10.0.0.5");
  CHECK(host->targets[0].port == 8080);
  CHECK(host->targets[0].port_name == "8080");

  auto named = parse_remote_forward("web:http/80");
  REQUIRE(named.ok());
  CHECK(named->targets[0].port_name == "http");
  CHECK(named->targets[0].host == "localhost");

  auto full = parse_remote_forward("team/db:sql/db.internal:1433");
  REQUIRE(full.ok());
  CHECK(full->hc == "team/db");
  CHECK(full->targets[0].port_name == "sql");
  CHECK(full->targets[0].host == "db.internal");
  CHECK(full->targets[0].port == 1433);

  auto slashy = parse_remote_forward("web:a/b/80");
  REQUIRE(slashy.ok());
  CHECK(slashy->targets[0].port_name == "a/b");

  auto v6 = parse_remote_forward("web:ssh/[::1]:22");
  REQUIRE(v6.ok());
  CHECK(v6->targets[0].host == "::1");
  CHECK(v6->targets[0].port == 22);
  CHECK(v6->targets[0].port_name == "ssh");

  auto multi = parse_remote_forward("db:sql/10.0.0.5:1433;metrics/9100;[2001:db8::5]:443");
  REQUIRE(multi.ok());
  REQUIRE(multi->targets.size() == 3);
  CHECK(multi->targets[1].port_name == "metrics");
  CHECK(multi->targets[1].host == "localhost");
  CHECK(multi->targets[1].port == 9100);
  CHECK(multi->targets[2].host == "2001:db8::5");
  CHECK(multi->targets[2].port_name == "443");
}

TEST_CASE("grammar: -T errors", "[grammar]") {
  CHECK(contains(remote_error(""), "empty"));
  CHECK(contains(remote_error("web"), "missing ':'"));
  CHECK(contains(remote_error(":80"), "missing hybrid connection name"));
  CHECK(contains(remote_error("web:"), "missing target"));
  CHECK(contains(remote_error("web:80;"), "empty target"));
  CHECK(contains(remote_error("web:0"), "out of range"));
  CHECK(contains(remote_error("web:70000"), "out of range"));
  CHECK(contains(remote_error("web:/80"), "Unix socket"));
  CHECK(contains(remote_error("web:x/"), "missing [host:]port"));
  CHECK(contains(remote_error("web:localhost:"), "missing port"));
  CHECK(contains(remote_error("web::1:80"), "brackets"));
  CHECK(contains(remote_error("web:[::1]"), "missing ':port'"));
  CHECK(contains(remote_error("web:a b/80"), "port name"));
  CHECK(contains(remote_error("we b:80"), "hybrid connection name"));
  const std::string udp = remote_error("dns:5353U/127.0.0.1:53");
  CHECK(contains(udp, "'dns:5353U/127.0.0.1:53'"));
  CHECK(contains(udp, "port name '5353U' is a UDP port name"));
  CHECK(contains(udp, "write the port as 53U"));
  CHECK(contains(remote_error("dns:70000U"), "UDP port '70000' is out of range"));
  CHECK(contains(remote_error("web:app/80a"), "not a port number"));
}

TEST_CASE("grammar: -T and -R take Unix socket targets", "[grammar]") {
  auto f = parse_remote_forward("web:unix:/run/app.sock;api/unix:/run/api.sock;app/var.sock;docker.sock;http/80");
  REQUIRE(f.ok());
  REQUIRE(f->targets.size() == 5);
  CHECK(f->targets[0].protocol == Protocol::unix_socket);
  CHECK(f->targets[0].socket_path == "/run/app.sock");
  CHECK(f->targets[0].port_name == "/run/app.sock");
  CHECK(f->targets[1].port_name == "api");
  CHECK(f->targets[1].socket_path == "/run/api.sock");
  CHECK(f->targets[2].port_name == "app");  // azbridge's relative form
  CHECK(f->targets[2].socket_path == "var.sock");
  CHECK(f->targets[3].port_name == "docker.sock");
  CHECK(f->targets[4].protocol == Protocol::tcp);
  auto host = parse_remote_forward("web:unix:80");
  REQUIRE(host.ok());
  CHECK(host->targets[0].host == "unix");
  auto legacy = parse_legacy_remote_forward("web:app/unix:/run/app.sock;sock/var.sock;db.sock");
  REQUIRE(legacy.ok());
  CHECK(legacy->targets[0].socket_path == "/run/app.sock");
  CHECK(legacy->targets[0].port_name == "app");
  CHECK(legacy->targets[1].socket_path == "var.sock");
  CHECK(legacy->targets[1].port_name == "sock");
  CHECK(legacy->targets[2].port_name == "db.sock");
  CHECK(contains(remote_error("web:/run/app.sock"), "a Unix socket is written unix:PATH"));
  CHECK(contains(remote_error("web:53U/unix:/run/dns.sock"), "is a UDP port name"));
  CHECK(contains(remote_error("web:unix:@x"), "abstract"));
  CHECK(contains(remote_error("web:unix:/" + std::string(107, 'x')), "at most 107"));
  CHECK(contains(legacy_error("web:localhost:var.sock"), "a Unix socket target has no host"));
  // -R's host comes first: "unix:http/80" is the host unix with port name http (found by fuzzing the round trip).
  auto legacy_host = parse_legacy_remote_forward("web:unix:http/80;unix:we5x");
  REQUIRE(legacy_host.ok());
  CHECK(legacy_host->targets[0].protocol == Protocol::tcp);
  CHECK(legacy_host->targets[0].host == "unix");
  CHECK(legacy_host->targets[0].port_name == "http");
  CHECK(legacy_host->targets[1].socket_path == "we5x");
}

// ---- -R ----

TEST_CASE("grammar: -R legacy order host:port_name/port", "[grammar]") {
  auto r = parse_legacy_remote_forward("web:localhost:http/80");
  REQUIRE(r.ok());
  CHECK(r->hc == "web");
  CHECK(r->targets[0].host == "localhost");
  CHECK(r->targets[0].port_name == "http");
  CHECK(r->targets[0].port == 80);

  auto bare = parse_legacy_remote_forward("web:80");
  REQUIRE(bare.ok());
  CHECK(bare->targets[0].host == "localhost");
  CHECK(bare->targets[0].port_name == "80");

  auto named = parse_legacy_remote_forward("web:test/80");
  REQUIRE(named.ok());
  CHECK(named->targets[0].port_name == "test");
  CHECK(named->targets[0].host == "localhost");

  auto host = parse_legacy_remote_forward("web:10.0.0.1:8080");
  REQUIRE(host.ok());
  CHECK(host->targets[0].host == "10.0.0.1");
  CHECK(host->targets[0].port_name == "8080");

  auto v6 = parse_legacy_remote_forward("web:[::1]:ssh/22;db/5432");
  REQUIRE(v6.ok());
  REQUIRE(v6->targets.size() == 2);
  CHECK(v6->targets[0].host == "::1");
  CHECK(v6->targets[0].port_name == "ssh");
  CHECK(v6->targets[1].port_name == "db");
  CHECK(v6->targets[1].port == 5432);

  CHECK(contains(legacy_error("web:host:"), "missing port"));
  CHECK(contains(legacy_error("web::80"), "empty host"));
  CHECK(contains(legacy_error("web:a:b:80"), "brackets"));
  CHECK(contains(legacy_error("web:[::1]"), "expected ':[port_name/]port'"));
  CHECK(contains(legacy_error("web:/x/80"), "Unix socket"));
  CHECK(contains(legacy_error("web:70000U"), "UDP port '70000' is out of range"));
  CHECK(contains(legacy_error("web:h:/80"), "empty port name"));
}

// ---- single bindings / targets (config file strings) ----

TEST_CASE("parse_local_binding and parse_remote_target", "[grammar]") {
  auto b = parse_local_binding("[::1]:8443/https");
  REQUIRE(b.ok());
  CHECK(b->bind_host == "::1");
  CHECK(b->port == 8443);
  CHECK(b->port_name == "https");
  auto e = parse_local_binding("x:y");
  REQUIRE_FALSE(e.ok());
  CHECK(contains(e.error(), "'x:y'"));
  CHECK(contains(e.error(), "not a port number"));

  auto t = parse_remote_target("web/example.com:443");
  REQUIRE(t.ok());
  CHECK(t->host == "example.com");
  CHECK(t->port_name == "web");
  CHECK_FALSE(parse_remote_target("").ok());
}

// ---- names ----

TEST_CASE("valid_hc_name follows azbridge's character set", "[grammar]") {
  CHECK(valid_hc_name("a"));
  CHECK(valid_hc_name("My-HC_1.test"));
  CHECK(valid_hc_name("team/db"));
  CHECK(valid_hc_name(std::string(260, 'h')));
  CHECK_FALSE(valid_hc_name(std::string(261, 'h')));
  CHECK_FALSE(valid_hc_name(""));
  CHECK_FALSE(valid_hc_name("/a"));
  CHECK_FALSE(valid_hc_name("a/"));
  CHECK_FALSE(valid_hc_name("a//b"));
  CHECK_FALSE(valid_hc_name("a b"));
  CHECK_FALSE(valid_hc_name("a:b"));
  CHECK_FALSE(valid_hc_name("a?b"));
  CHECK_FALSE(valid_hc_name("caf\xC3\xA9"));
  CHECK(hc_name_problem("ok").empty());
  CHECK(contains(hc_name_problem("a%b"), "'%'"));
}

TEST_CASE("valid_host accepts names and literals, rejects junk", "[grammar]") {
  CHECK(valid_host("localhost"));
  CHECK(valid_host("db-1.internal"));
  CHECK(valid_host("127.0.0.1"));
  CHECK(valid_host("::1"));
  CHECK(valid_host("2001:db8::1"));
  CHECK_FALSE(valid_host(""));
  CHECK_FALSE(valid_host("a b"));
  CHECK_FALSE(valid_host("-x"));
  CHECK_FALSE(valid_host("1.2.3.256"));
  CHECK_FALSE(valid_host(":::"));
  CHECK_FALSE(valid_host(std::string(254, 'a')));
  CHECK_FALSE(valid_host(std::string("a\0b", 3)));
}

TEST_CASE("grammar never crashes on hostile input", "[grammar]") {
  const std::string samples[] = {":",
                                 "::",
                                 ":::",
                                 ";",
                                 ";;:",
                                 "[",
                                 "]",
                                 "[]",
                                 "[:",
                                 "]:",
                                 "/",
                                 "//",
                                 "/:",
                                 ":/",
                                 "a:[",
                                 "a:]",
                                 "a:[]:",
                                 "a:/",
                                 "a:;",
                                 "\xff:\x01",
                                 std::string(5000, ':'),
                                 std::string(5000, '['),
                                 std::string("8080\0:web", 9)};
  for (const auto& s : samples) {
    CHECK_FALSE(parse_local_forward(s).ok());
    CHECK_FALSE(parse_remote_forward(s).ok());
    CHECK_FALSE(parse_legacy_remote_forward(s).ok());
  }
}

TEST_CASE("grammar: port names that -T would read as a socket path are refused everywhere (fuzz finding)", "[grammar]") {
  CHECK_FALSE(bridge::parse_legacy_remote_forward("web:localhost:/a/80").ok());
  CHECK_FALSE(bridge::parse_local_forward("8080//a:web").ok());
  CHECK_FALSE(bridge::parse_local_forward("8080/.hidden:web").ok());
  CHECK(bridge::parse_local_forward("8080/a/b:web").ok());
}

TEST_CASE("grammar: an IPv6 host with a NUL inside is refused (fuzz finding)", "[grammar]") {
  const std::string expr("web:[::1\0evil/x]:80", 19);
  CHECK_FALSE(bridge::parse_legacy_remote_forward(expr).ok());
  CHECK_FALSE(bridge::valid_host(std::string_view("::1\0evil", 8)));
}

TEST_CASE("grammar: -T and -R take UDP targets, and the numeric single-target rule is no concern of the grammar", "[grammar]") {
  auto f = parse_remote_forward("dns:53U;dns2/[::1]:5353U;web/8080");
  REQUIRE(f.ok());
  CHECK(f->targets[0].protocol == Protocol::udp);
  CHECK(f->targets[0].port_name == "53U");
  CHECK(f->targets[0].host == "localhost");
  CHECK(f->targets[1].port_name == "dns2");
  CHECK(f->targets[1].host == "::1");
  CHECK(f->targets[1].protocol == Protocol::udp);
  CHECK(f->targets[2].protocol == Protocol::tcp);
  auto r = parse_legacy_remote_forward("dns:127.0.0.1:name/53U");
  REQUIRE(r.ok());
  CHECK(r->targets[0].protocol == Protocol::udp);
  CHECK(r->targets[0].port_name == "name");
  // A UDP name on a UDP target is fine.
  CHECK(parse_remote_forward("dns:5353U/127.0.0.1:53U").ok());
}
