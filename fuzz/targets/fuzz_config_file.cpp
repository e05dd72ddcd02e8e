// bridge::parse_config_json, then (for configs that name no key_file or ca_file, so nothing is read from disk)
// bridge::validate_config and bridge::render_config.
// Invariants:
//  - errors read "fuzz.json:LINE: ..." with a line inside the text, and a UTF-8 BOM in front changes nothing;
//  - errors, warnings and the rendering never depend on, nor show, a secret: the same text with every "key" / "sas"
//    value and every SharedAccessKey= / SharedAccessSignature= value of a connection_string replaced by a same-length
//    marker gives identical results, and the marker never appears;
//  - what parsed is well-formed (valid hc names, hosts, ports, port names);
//  - render_config of a validated config parses and validates back to the same config (with secrets as "***").
#include "fuzz_check.hpp"

#include "bridge/cli.hpp"
#include "bridge/config.hpp"
#include "bridge/config_file.hpp"
#include "bridge/forward_grammar.hpp"
#include "hc/preamble.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace {

constexpr const char* kSource = "fuzz.json";

struct Span {
  std::size_t pos, len;
};

bool plain_json_char(char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

// Raw string values of `"name": "..."` members whose text needs no unescaping (so raw == decoded).
std::vector<Span> member_values(const std::string& text, const std::string& name) {
  std::vector<Span> out;
  const std::string needle = "\"" + name + "\"";
  for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    if (pos > 0 && text[pos - 1] == '\\') continue;
    std::size_t i = pos + needle.size();
    while (i < text.size() && fuzz::is_ascii_space(text[i])) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (i < text.size() && fuzz::is_ascii_space(text[i])) ++i;
    if (i >= text.size() || text[i] != '"') continue;
    const std::size_t start = ++i;
    while (i < text.size() && plain_json_char(text[i])) ++i;
    if (i < text.size() && text[i] == '"' && i > start) out.push_back({start, i - start});
  }
  return out;
}

bool cs_space(char c) { return fuzz::is_ascii_space(c); }

// The `sig` values inside a SAS token (reference 2.4: '&'-separated pairs split at their first '='). Only the signature
// is replaced, since validate_config checks that a pre-issued sas is shaped like a token.
void token_signatures(const std::string& text, Span value, std::vector<Span>& out) {
  std::size_t start = value.pos;
  const std::size_t end_all = value.pos + value.len;
  while (start < end_all) {
    std::size_t end = text.find('&', start);
    if (end == std::string::npos || end > end_all) end = end_all;
    const std::size_t eq = text.find('=', start);
    if (eq != std::string::npos && eq < end && hc::iequals(text.substr(start, eq - start), "sig")) {
      std::size_t ve = end;
      while (ve > eq + 1 && fuzz::is_ascii_space(text[ve - 1])) --ve;
      if (ve > eq + 1) out.push_back({eq + 1, ve - eq - 1});
    }
    start = end + 1;
  }
}

// Secret values inside a connection string (reference 2.6 splitting).
void connection_string_secrets(const std::string& text, Span value, std::vector<Span>& out) {
  std::size_t start = value.pos;
  const std::size_t end_all = value.pos + value.len;
  while (start <= end_all) {
    std::size_t end = text.find(';', start);
    if (end == std::string::npos || end > end_all) end = end_all;
    const std::size_t eq = text.find('=', start);
    if (eq != std::string::npos && eq < end) {
      std::size_t kb = start, ke = eq;
      while (kb < ke && cs_space(text[kb])) ++kb;
      while (ke > kb && cs_space(text[ke - 1])) --ke;
      std::size_t vb = eq + 1, ve = end;
      while (vb < ve && cs_space(text[vb])) ++vb;
      while (ve > vb && cs_space(text[ve - 1])) --ve;
      const std::string key = text.substr(kb, ke - kb);
      if (ve > vb && hc::iequals(key, "SharedAccessKey")) out.push_back({vb, ve - vb});
      if (ve > vb && hc::iequals(key, "SharedAccessSignature")) token_signatures(text, {vb, ve - vb}, out);
    }
    start = end + 1;
  }
}

std::vector<Span> secret_spans(const std::string& text) {
  std::vector<Span> found = member_values(text, "key");
  for (const Span& s : member_values(text, "sas")) token_signatures(text, s, found);
  for (const Span& s : member_values(text, "connection_string")) connection_string_secrets(text, s, found);
  // The scan above does not know about comments: a "value" may really be comment text whose "*/" ends the comment,
  // and replacing that would change the JSON. Such spans are left alone.
  std::vector<Span> spans;
  for (const Span& s : found)
    if (text.substr(s.pos, s.len).find("*/") == std::string::npos) spans.push_back(s);
  return spans;
}

// ---- Config comparison ----

bool close_enough(double a, double b) { return a == b || std::fabs(a - b) <= 1e-12 * std::max(1.0, std::fabs(a)); }

bool same_relay(const bridge::RelaySettings& a, const bridge::RelaySettings& b, bool with_entity) {
  return a.endpoint == b.endpoint && a.key_name == b.key_name && a.key == b.key && a.key_file == b.key_file &&
         a.sas == b.sas && a.ca_file == b.ca_file && a.no_auth == b.no_auth && (!with_entity || a.entity_path == b.entity_path);
}

bool same_opt_relay(const std::optional<bridge::RelaySettings>& a, const std::optional<bridge::RelaySettings>& b, bool e) {
  return a.has_value() == b.has_value() && (!a || same_relay(*a, *b, e));
}

bool same_opt_seconds(const std::optional<bridge::Seconds>& a, const std::optional<bridge::Seconds>& b) {
  return a.has_value() == b.has_value() && (!a || close_enough(a->count(), b->count()));
}

bool same_config(const bridge::Config& a, const bridge::Config& b, bool with_origin, bool with_entity) {
  if (!same_relay(a.relay, b.relay, with_entity)) return false;
  if (a.local_forwards.size() != b.local_forwards.size() || a.remote_forwards.size() != b.remote_forwards.size())
    return false;
  for (std::size_t i = 0; i < a.local_forwards.size(); ++i) {
    const auto& x = a.local_forwards[i];
    const auto& y = b.local_forwards[i];
    if (x.hc != y.hc || x.raw != y.raw || x.max_connections != y.max_connections || !same_opt_seconds(x.idle_timeout, y.idle_timeout) ||
        !same_opt_relay(x.relay, y.relay, with_entity) || x.bindings.size() != y.bindings.size() ||
        (with_origin && x.origin != y.origin))
      return false;
    for (std::size_t j = 0; j < x.bindings.size(); ++j)
      if (x.bindings[j].bind_host != y.bindings[j].bind_host || x.bindings[j].port != y.bindings[j].port ||
          x.bindings[j].port_name != y.bindings[j].port_name)
        return false;
  }
  for (std::size_t i = 0; i < a.remote_forwards.size(); ++i) {
    const auto& x = a.remote_forwards[i];
    const auto& y = b.remote_forwards[i];
    if (x.hc != y.hc || x.raw != y.raw || x.max_connections != y.max_connections || !same_opt_seconds(x.idle_timeout, y.idle_timeout) ||
        !same_opt_relay(x.relay, y.relay, with_entity) || x.targets.size() != y.targets.size() ||
        (with_origin && x.origin != y.origin))
      return false;
    for (std::size_t j = 0; j < x.targets.size(); ++j)
      if (x.targets[j].host != y.targets[j].host || x.targets[j].port != y.targets[j].port ||
          x.targets[j].port_name != y.targets[j].port_name)
        return false;
  }
  return close_enough(a.token_ttl.count(), b.token_ttl.count()) && close_enough(a.keepalive.count(), b.keepalive.count()) &&
         close_enough(a.connect_timeout.count(), b.connect_timeout.count()) &&
         close_enough(a.preamble_timeout.count(), b.preamble_timeout.count()) &&
         close_enough(a.backoff_initial.count(), b.backoff_initial.count()) &&
         close_enough(a.backoff_max.count(), b.backoff_max.count()) &&
         close_enough(a.grace_period.count(), b.grace_period.count()) &&
         close_enough(a.idle_timeout.count(), b.idle_timeout.count()) && a.max_connections == b.max_connections &&
         a.log_level == b.log_level && a.log_format == b.log_format && a.admin_bind == b.admin_bind;
}

template <class F>
void for_each_relay(bridge::Config& c, F f) {
  f(c.relay);
  for (auto& x : c.local_forwards)
    if (x.relay) f(*x.relay);
  for (auto& x : c.remote_forwards)
    if (x.relay) f(*x.relay);
}

bool touches_files(bridge::Config c) {
  bool files = false;
  for_each_relay(c, [&](bridge::RelaySettings& r) { files = files || !r.key_file.empty() || !r.ca_file.empty(); });
  return files;
}

void check_error_format(const std::string& error, const std::string& text) {
  const std::string prefix = std::string(kSource) + ":";
  FUZZ_CHECK(error.compare(0, prefix.size(), prefix) == 0, "error without the file name: " + fuzz::show(error));
  std::size_t i = prefix.size();
  std::size_t line = 0;
  while (i < error.size() && error[i] >= '0' && error[i] <= '9' && line < 100000000) line = line * 10 + static_cast<std::size_t>(error[i++] - '0');
  FUZZ_CHECK(i > prefix.size() && error.compare(i, 2, ": ") == 0, "error without a line number: " + fuzz::show(error));
  FUZZ_CHECK(line >= 1 && line <= fuzz::count_of(text, "\n") + 1, "error line out of range: " + fuzz::show(error));
}

// A Unix socket endpoint: a usable path and a valid port name; else a port, a valid host and a valid port name.
template <class Endpoint>
bool endpoint_ok(const Endpoint& e, const std::string& host) {
  if (e.protocol == bridge::Protocol::unix_socket)
    return bridge::socket_path_problem(e.socket_path).empty() && hc::valid_port_name(e.port_name);
  return e.port != 0 && bridge::valid_host(host) && hc::valid_port_name(e.port_name);
}

void check_well_formed(const bridge::Config& c) {
  for (const auto& f : c.local_forwards) {
    FUZZ_CHECK(bridge::valid_hc_name(f.hc) && !f.bindings.empty(), "local forward " + fuzz::show(f.hc));
    for (const auto& b : f.bindings)
      FUZZ_CHECK(endpoint_ok(b, b.bind_host), "binding " + fuzz::show(b.bind_host) + " " + fuzz::show(b.port_name));
  }
  for (const auto& f : c.remote_forwards) {
    FUZZ_CHECK(bridge::valid_hc_name(f.hc) && (!f.targets.empty() || f.http), "remote forward " + fuzz::show(f.hc));
    for (const auto& t : f.targets)
      FUZZ_CHECK(endpoint_ok(t, t.host),
                 "target " + fuzz::show(t.host) + " " + fuzz::show(t.port_name));
  }
}

bool contains_marker_text(const bridge::Config& c) {
  bool found = false;
  auto look = [&](const std::string& s) {
    found = found || s.find("SharedAccess") != std::string::npos || s.find("sig=") != std::string::npos;
  };
  bridge::Config copy = c;
  for_each_relay(copy, [&](bridge::RelaySettings& r) {
    look(r.endpoint);
    look(r.key_name);
  });
  for (const auto& f : c.local_forwards) {
    look(f.hc);
    for (const auto& b : f.bindings) look(b.bind_host), look(b.port_name);
  }
  for (const auto& f : c.remote_forwards) {
    look(f.hc);
    for (const auto& t : f.targets) look(t.host), look(t.port_name);
  }
  look(c.admin_bind);
  return found;
}

// render_config writes every key and sas as "***"; the documented way back is to put the secrets in again.
void check_render_round_trip(const bridge::Config& validated) {
  bridge::Config safe = validated;
  for_each_relay(safe, [](bridge::RelaySettings& r) {
    if (!r.key.empty()) r.key = "***";
  });
  if (contains_marker_text(safe)) return;  // render_config masks after those on purpose
  const std::string text = bridge::render_config(safe);
  auto back = bridge::parse_config_json(text, "rendered.json");
  FUZZ_CHECK(back.ok(), "render_config output does not parse: " + (back.ok() ? "" : back.error()) + "\n" + text);
  std::vector<std::string> sas;
  for_each_relay(safe, [&](bridge::RelaySettings& r) { sas.push_back(r.sas); });
  std::size_t i = 0;
  bool shape = true;
  for_each_relay(back.value(), [&](bridge::RelaySettings& r) {
    if (i >= sas.size()) {
      shape = false;
      return;
    }
    FUZZ_CHECK(r.sas == (sas[i].empty() ? "" : "***"), "sas not masked as \"***\":\n" + text);
    r.sas = sas[i++];
  });
  FUZZ_CHECK(shape && i == sas.size(), "render_config round trip changed the relay overrides:\n" + text);
  std::vector<std::string> warnings;
  auto ok = bridge::validate_config(back.value(), warnings);
  FUZZ_CHECK(ok.ok(), "render_config output does not validate: " + (ok.ok() ? "" : ok.error()) + "\n" + text);
  FUZZ_CHECK(same_config(safe, back.value(), false, false), "render_config round trip changed the config:\n" + text);
  FUZZ_CHECK(bridge::render_config(back.value()) == text, "render_config is not stable:\n" + text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto parsed = bridge::parse_config_json(text, kSource);

  if (text.compare(0, 3, "\xEF\xBB\xBF") != 0) {
    const auto bom = bridge::parse_config_json("\xEF\xBB\xBF" + text, kSource);
    FUZZ_CHECK(bom.ok() == parsed.ok(), "a BOM changed the verdict");
    if (!parsed.ok()) FUZZ_CHECK(bom.error() == parsed.error(), "a BOM changed the error: " + fuzz::show(bom.error()) + " vs " + fuzz::show(parsed.error()));
    else FUZZ_CHECK(same_config(parsed.value(), bom.value(), true, true), "a BOM changed the config");
  }

  const std::vector<Span> spans = secret_spans(text);
  std::string marked = text;
  std::vector<std::size_t> lens;
  for (const Span& s : spans) {
    marked.replace(s.pos, s.len, fuzz::marker(s.len));
    lens.push_back(s.len);
  }
  const std::string probe = fuzz::marker_probe(marked, lens);
  const auto parsed_marked = spans.empty() ? parsed : bridge::parse_config_json(marked, kSource);
  FUZZ_CHECK(parsed.ok() == parsed_marked.ok(), "a secret value changed the verdict: " + fuzz::show(text));

  if (!parsed) {
    check_error_format(parsed.error(), text);
    FUZZ_CHECK(parsed.error() == parsed_marked.error(),
               "error depends on a secret: " + fuzz::show(parsed.error()) + " vs " + fuzz::show(parsed_marked.error()));
    if (!probe.empty()) FUZZ_CHECK(parsed_marked.error().find(probe) == std::string::npos, "error shows a secret: " + fuzz::show(parsed_marked.error()));
    return 0;
  }

  check_well_formed(parsed.value());
  if (touches_files(parsed.value())) return 0;  // validate_config would read key or CA files

  bridge::Config config = parsed.value();
  bridge::Config config_marked = parsed_marked.value();
  std::vector<std::string> warnings, warnings_marked;
  const auto valid = bridge::validate_config(config, warnings);
  const auto valid_marked = bridge::validate_config(config_marked, warnings_marked);
  FUZZ_CHECK(valid.ok() == valid_marked.ok() && warnings == warnings_marked, "validation depends on a secret");
  for (const auto& w : warnings_marked)
    if (!probe.empty()) FUZZ_CHECK(w.find(probe) == std::string::npos, "warning shows a secret: " + fuzz::show(w));
  if (!valid) {
    FUZZ_CHECK(!valid.error().empty() && valid.error() == valid_marked.error(),
               "validation error depends on a secret: " + fuzz::show(valid.error()) + " vs " + fuzz::show(valid_marked.error()));
    if (!probe.empty()) FUZZ_CHECK(valid_marked.error().find(probe) == std::string::npos, "validation error shows a secret: " + fuzz::show(valid_marked.error()));
    return 0;
  }

  const std::string rendered = bridge::render_config(config);
  const std::string rendered_marked = bridge::render_config(config_marked);
  if (!probe.empty()) FUZZ_CHECK(rendered_marked.find(probe) == std::string::npos, "render_config shows a secret:\n" + rendered_marked);
  for_each_relay(config, [&](bridge::RelaySettings& r) {
    if (r.key.size() >= 6) FUZZ_CHECK(rendered.find(r.key) == std::string::npos, "render_config shows a key:\n" + rendered);
    if (r.sas.size() >= 6) FUZZ_CHECK(rendered.find(r.sas) == std::string::npos, "render_config shows a sas:\n" + rendered);
  });
  check_render_round_trip(config);
  return 0;
}
