#include "hc/rendezvous.hpp"

#include <catch2/catch.hpp>

namespace {
hc::Uri uri(const char* text) {
  auto u = hc::parse_uri(text);
  REQUIRE(u.ok());
  return u.value();
}
}  // namespace

TEST_CASE("rendezvous: Azure gateway hosts inside the namespace's domain are allowed") {
  const auto relay = uri("sb://contoso.servicebus.windows.net/");
  CHECK(hc::check_rendezvous_address(
            relay, "wss://g17-prod-by3-010-sb.servicebus.windows.net/$hc/myhc?sb-hc-action=accept&sb-hc-id=x")
            .ok());
  CHECK(hc::check_rendezvous_address(relay, "wss://g17-prod-by3-010-sb.servicebus.windows.net:443/$hc/myhc").ok());
  CHECK(hc::check_rendezvous_address(relay, "wss://contoso.servicebus.windows.net/$hc/myhc").ok());
}

TEST_CASE("rendezvous: other hosts, schemes, ports and downgrades are refused") {
  const auto relay = uri("sb://contoso.servicebus.windows.net/");
  auto refused = [&](const char* address, const char* why) {
    auto r = hc::check_rendezvous_address(relay, address);
    INFO(address);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains(why));
  };
  refused("wss://evil.example.com/$hc/x", "neither the relay host");
  refused("wss://servicebus.windows.net.evil.com/$hc/x", "neither the relay host");
  refused("wss://windows.net/$hc/x", "neither the relay host");
  refused("ws://g1-prod-sb.servicebus.windows.net/$hc/x", "downgrades");
  refused("https://g1-prod-sb.servicebus.windows.net/$hc/x", "scheme");
  refused("wss://g1-prod-sb.servicebus.windows.net:22/$hc/x", "port");
  refused("not a url", "not a valid URI");
}

TEST_CASE("rendezvous: a local relay by IP allows only itself") {
  const auto relay = uri("ws://127.0.0.1:9350/");
  CHECK(hc::check_rendezvous_address(relay, "ws://127.0.0.1:9350/$hc/a?sb-hc-action=accept").ok());
  CHECK_FALSE(hc::check_rendezvous_address(relay, "ws://127.0.0.2:9350/$hc/a").ok());
  CHECK_FALSE(hc::check_rendezvous_address(relay, "ws://127.0.0.1:9351/$hc/a").ok());
  CHECK_FALSE(hc::check_rendezvous_address(relay, "ws://169.254.169.254:9350/latest/meta-data").ok());
}
