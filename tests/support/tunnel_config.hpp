// The daemon configuration the integration tests share (bridge_fixture.hpp, hostile_relay_test.cpp,
// threads_test.cpp): the relay at `endpoint` with the test rule "root" and `key`, fast reconnects (0.05 s, at most
// 0.2 s), and a pair of forwards on one hybrid connection `hc`: -L on an ephemeral loopback port with the port name
// "web", and -T with no target yet (each test adds its own).
#pragma once

#include "bridge/config.hpp"

#include <string>

namespace testing {

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
  l.bindings.push_back(bridge::LocalBinding{"127.0.0.1", 0, "web"});
  config.local_forwards.push_back(l);
  bridge::RemoteForward r;
  r.hc = hc;
  config.remote_forwards.push_back(r);
  return config;
}

}  // namespace testing
