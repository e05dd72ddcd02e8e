// The grammar of a published web server (HC HTTP request mode): azbridge's -H expression and the config file's URL.
// Pure functions: no I/O, no exceptions; every mistake is an error message that quotes the text and says what was
// expected.
#pragma once

#include "bridge/config.hpp"
#include "hc/result.hpp"

#include <string_view>

namespace bridge {

// The config file's form: "http://host[:port][/base/path]" or "https://...". No query, no fragment, no user-info.
hc::Result<HttpTarget> parse_http_target_url(std::string_view url);

// -H "hc:{http|https}/host[:port][/base/path][:port]" (azbridge's grammar puts the port after the path; the URL's
// place before it is accepted too). IPv6 hosts in brackets.
hc::Result<RemoteForward> parse_http_forward(std::string_view expr);

}  // namespace bridge
