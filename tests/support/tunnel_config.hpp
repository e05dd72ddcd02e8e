// The daemon configuration the integration tests share (bridge_fixture.hpp, hostile_relay_test.cpp,
// threads_test.cpp): the relay at `endpoint` with the test rule "root" and `key`, fast reconnects (0.05 s, at most
// 0.2 s), and a pair of forwards on one hybrid connection `hc`: -L on an ephemeral loopback port with the port name
// "web", and -T with no target yet (each test adds its own). port_binding and port_target make the bindings and
// targets tests add, the fields they leave out at the model's defaults.
#pragma once

#include "bridge/config.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace testing {

// A TCP (or UDP) binding listening on `host`:`port` (0: an ephemeral port) that sends `port_name`.
inline bridge::LocalBinding port_binding(std::string host, uint16_t port, std::string port_name,
                                         bridge::Protocol protocol = bridge::Protocol::tcp) {
  bridge::LocalBinding b;
  b.bind_host = std::move(host);
  b.port = port;
  b.port_name = std::move(port_name);
  b.protocol = protocol;
  return b;
}

// A TCP (or UDP) target `host`:`port` that streams with `port_name` go to.
inline bridge::RemoteTarget port_target(std::string port_name, std::string host, uint16_t port,
                                        bridge::Protocol protocol = bridge::Protocol::tcp) {
  bridge::RemoteTarget t;
  t.port_name = std::move(port_name);
  t.host = std::move(host);
  t.port = port;
  t.protocol = protocol;
  return t;
}

inline bridge::Config tunnel_pair_config(const std::string& endpoint, const std::string& key,
                                         const std::string& hc = "tun") {
  bridge::Config config;
  config.relay.endpoint = endpoint;
  config.relay.key_name = "root";
  config.relay.key = key;
  config.backoff_initial = bridge::Seconds(0.05);
  config.backoff_max = bridge::Seconds(0.2);
  bridge::LocalForward l;
  l.hc = hc;
  l.bindings.push_back(port_binding("127.0.0.1", 0, "web"));
  config.local_forwards.push_back(l);
  bridge::RemoteForward r;
  r.hc = hc;
  config.remote_forwards.push_back(r);
  return config;
}

}  // namespace testing
