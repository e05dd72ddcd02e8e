// Which rendezvous addresses a listener may dial. The address arrives from the network inside an `accept` message; if we
// dialled whatever it said, a rogue or compromised relay could make us connect to arbitrary hosts (SSRF).
#pragma once

#include "hc/result.hpp"
#include "hc/url.hpp"

#include <string_view>

namespace hc {

// Allowed: scheme ws or wss (wss only when the relay is TLS), and either the relay's own host and port, or, for a
// named relay host with at least three labels, any host inside its parent domain (Azure's gateways:
// g17-prod-by3-010-sb.servicebus.windows.net for contoso.servicebus.windows.net) on the relay's port.
Result<Uri> check_rendezvous_address(const Uri& relay, std::string_view address);

}  // namespace hc
