#include "hc/control_message.hpp"
#include "hc/utf8.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>

#include "hc/url.hpp"

namespace hc {

namespace {

using Value = rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

std::string str(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// Error or nothing; the field helpers below never mention field values, only names.
using Check = std::optional<Error>;

Check required_string(const Value& obj, const char* msg, const char* field, std::string& out) {
  const auto it = obj.FindMember(field);
  if (it == obj.MemberEnd()) return fail(std::string(msg) + " message is missing '" + field + "'");
  if (!it->value.IsString()) return fail(std::string(msg) + " message field '" + field + "' must be a string");
  out = str(it->value);
  return std::nullopt;
}

// Absent or null leaves `out` untouched and `present` false.
Check optional_string(const Value& obj, const char* msg, const char* field, std::string& out, bool* present = nullptr) {
  if (present) *present = false;
  const auto it = obj.FindMember(field);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsString()) return fail(std::string(msg) + " message field '" + field + "' must be a string");
  out = str(it->value);
  if (present) *present = true;
  return std::nullopt;
}

Check optional_bool(const Value& obj, const char* msg, const char* field, bool& out) {
  const auto it = obj.FindMember(field);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsBool()) return fail(std::string(msg) + " message field '" + field + "' must be true or false");
  out = it->value.GetBool();
  return std::nullopt;
}

Check optional_headers(const Value& obj, const char* msg, const char* field, HeaderList& out) {
  const auto it = obj.FindMember(field);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsObject()) return fail(std::string(msg) + " message field '" + field + "' must be an object");
  for (const auto& h : it->value.GetObject()) {
    if (!h.value.IsString())
      return fail(std::string(msg) + " message header " + quote_for_message(str(h.name)) + " in '" + field +
                  "' must have a string value");
    out.emplace_back(str(h.name), str(h.value));
  }
  return std::nullopt;
}

Check optional_remote_endpoint(const Value& obj, const char* msg, std::string& address, int& port) {
  const auto it = obj.FindMember("remoteEndpoint");
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsObject()) return fail(std::string(msg) + " message field 'remoteEndpoint' must be an object");
  if (optional_string(it->value, msg, "address", address))
    return fail(std::string(msg) + " message field 'remoteEndpoint.address' must be a string");
  const auto p = it->value.FindMember("port");
  if (p != it->value.MemberEnd() && !p->value.IsNull()) {
    if (!p->value.IsInt() || p->value.GetInt() < 0 || p->value.GetInt() > 65535)
      return fail(std::string(msg) + " message field 'remoteEndpoint.port' must be an integer 0-65535");
    port = p->value.GetInt();
  }
  return std::nullopt;
}

Result<ControlMessage> parse_accept(const Value& o) {
  AcceptMessage m;
  if (auto e = required_string(o, "accept", "address", m.address)) return *e;
  if (auto e = required_string(o, "accept", "id", m.id)) return *e;
  if (auto e = optional_headers(o, "accept", "connectHeaders", m.connect_headers)) return *e;
  if (auto e = optional_remote_endpoint(o, "accept", m.remote_address, m.remote_port)) return *e;
  return ControlMessage(std::move(m));
}

Result<ControlMessage> parse_request(const Value& o) {
  RequestMessage m;
  bool has_method = false;
  if (auto e = optional_string(o, "request", "method", m.method, &has_method)) return *e;
  m.rendezvous_only = !has_method;
  // The full request re-sent on a rendezvous socket may omit the address (reference 9); the
  // rendezvous-only form is useless without it.
  if (m.rendezvous_only) {
    if (auto e = required_string(o, "request", "address", m.address)) return *e;
  } else if (auto e = optional_string(o, "request", "address", m.address)) {
    return *e;
  }
  if (auto e = required_string(o, "request", "id", m.id)) return *e;
  if (auto e = optional_string(o, "request", "requestTarget", m.request_target)) return *e;
  if (auto e = optional_headers(o, "request", "requestHeaders", m.request_headers)) return *e;
  if (auto e = optional_remote_endpoint(o, "request", m.remote_address, m.remote_port)) return *e;
  if (auto e = optional_bool(o, "request", "body", m.body)) return *e;
  return ControlMessage(std::move(m));
}

Result<ControlMessage> parse_renew_token(const Value& o) {
  RenewTokenMessage m;
  if (auto e = required_string(o, "renewToken", "token", m.token)) return *e;
  return ControlMessage(std::move(m));
}

Result<ControlMessage> parse_response(const Value& o) {
  ResponseMessage m;
  if (auto e = required_string(o, "response", "requestId", m.request_id)) return *e;
  const auto sc = o.FindMember("statusCode");
  if (sc == o.MemberEnd()) return fail("response message is missing 'statusCode'");
  long code = -1;
  if (sc->value.IsInt()) {
    code = sc->value.GetInt();
  } else if (sc->value.IsString()) {
    // Go and the DOC example send "200" as a string.
    const std::string_view s(sc->value.GetString(), sc->value.GetStringLength());
    if (s.empty() || s.size() > 6) return fail("response message field 'statusCode' is not a valid number");
    code = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return fail("response message field 'statusCode' is not a valid number");
      code = code * 10 + (c - '0');
    }
  } else {
    return fail("response message field 'statusCode' must be a number or a numeric string");
  }
  if (code < 100 || code > 999)
    return fail("response message statusCode " + std::to_string(code) + " is out of range (100-999)");
  m.status_code = static_cast<int>(code);
  if (auto e = optional_string(o, "response", "statusDescription", m.status_description)) return *e;
  if (auto e = optional_headers(o, "response", "responseHeaders", m.response_headers)) return *e;
  if (auto e = optional_bool(o, "response", "body", m.body)) return *e;
  return ControlMessage(std::move(m));
}

void put_string(JsonWriter& w, std::string_view s) {
  const std::string v = to_valid_utf8(s);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void put_key(JsonWriter& w, std::string_view s) {
  const std::string v = to_valid_utf8(s);
  w.Key(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void put_headers(JsonWriter& w, std::string_view field, const HeaderList& headers) {
  put_key(w, field);
  w.StartObject();
  for (const auto& [name, value] : headers) {
    put_key(w, name);
    put_string(w, value);
  }
  w.EndObject();
}

// RapidJSON 1.1.0 turns a lone low-surrogate escape ("\udc00") into bytes that are not UTF-8, even when validating
// the encoding; check every key and string it produced (with an explicit stack: nesting may be deep).
bool all_strings_utf8(const rapidjson::Value& root) {
  std::vector<const rapidjson::Value*> todo{&root};
  while (!todo.empty()) {
    const rapidjson::Value* v = todo.back();
    todo.pop_back();
    if (v->IsString()) {
      if (!is_valid_utf8(std::string_view(v->GetString(), v->GetStringLength()))) return false;
    } else if (v->IsObject()) {
      for (auto m = v->MemberBegin(); m != v->MemberEnd(); ++m) {
        if (!is_valid_utf8(std::string_view(m->name.GetString(), m->name.GetStringLength()))) return false;
        todo.push_back(&m->value);
      }
    } else if (v->IsArray()) {
      for (auto e = v->Begin(); e != v->End(); ++e) todo.push_back(&*e);
    }
  }
  return true;
}

// "remoteEndpoint":{"address":..,"port":..}, omitted when the address is empty.
void put_remote_endpoint(JsonWriter& w, const std::string& address, int port) {
  if (address.empty()) return;
  put_key(w, "remoteEndpoint");
  w.StartObject();
  put_key(w, "address");
  put_string(w, address);
  put_key(w, "port");
  w.Int(port);
  w.EndObject();
}

}  // namespace

Result<ControlMessage> parse_control_message(std::string_view json) {
  if (json.size() > kMaxControlMessageSize)
    return fail("control message too large (" + std::to_string(json.size()) + " bytes, limit " +
                std::to_string(kMaxControlMessageSize) + ")");
  // RapidJSON treats NUL as the end of input, which would hide trailing garbage after it.
  if (json.find('\0') != std::string_view::npos) return fail("control message contains a NUL byte");
  rapidjson::Document doc;
  // Iterative parsing keeps deeply nested input from exhausting the stack.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc.HasParseError())
    return fail(std::string("control message is not valid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                " (at byte " + std::to_string(doc.GetErrorOffset()) + ")");
  if (!all_strings_utf8(doc)) return fail("control message has a string that is not valid UTF-8 (a lone surrogate?)");
  if (!doc.IsObject()) return fail("control message is not a JSON object");
  if (doc.MemberCount() != 1)
    return fail("control message must have exactly one member, found " + std::to_string(doc.MemberCount()));
  const auto& member = *doc.MemberBegin();
  const std::string name = str(member.name);
  if (!member.value.IsObject())
    return fail("control message member " + quote_for_message(name) + " must be an object");
  if (name == "accept") return parse_accept(member.value);
  if (name == "request") return parse_request(member.value);
  if (name == "renewToken") return parse_renew_token(member.value);
  if (name == "response") return parse_response(member.value);
  return ControlMessage(UnknownMessage{name});
}

std::string build_accept_message(const AcceptMessage& m) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  put_key(w, "accept");
  w.StartObject();
  put_key(w, "address");
  put_string(w, m.address);
  put_key(w, "id");
  put_string(w, m.id);
  put_headers(w, "connectHeaders", m.connect_headers);
  put_remote_endpoint(w, m.remote_address, m.remote_port);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string build_renew_token_message(std::string_view token) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  put_key(w, "renewToken");
  w.StartObject();
  put_key(w, "token");
  put_string(w, token);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string build_response_message(const ResponseMessage& m) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  put_key(w, "response");
  w.StartObject();
  put_key(w, "requestId");
  put_string(w, m.request_id);
  put_key(w, "statusCode");
  w.Int(m.status_code);
  if (!m.status_description.empty()) {
    put_key(w, "statusDescription");
    put_string(w, m.status_description);
  }
  put_headers(w, "responseHeaders", m.response_headers);
  put_key(w, "body");
  w.Bool(m.body);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string build_request_message(const RequestMessage& m) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  put_key(w, "request");
  w.StartObject();
  if (!m.address.empty() || m.rendezvous_only) {
    put_key(w, "address");
    put_string(w, m.address);
  }
  put_key(w, "id");
  put_string(w, m.id);
  if (!m.rendezvous_only) {
    put_key(w, "requestTarget");
    put_string(w, m.request_target);
    put_key(w, "method");
    put_string(w, m.method);
    put_headers(w, "requestHeaders", m.request_headers);
    put_remote_endpoint(w, m.remote_address, m.remote_port);
    put_key(w, "body");
    w.Bool(m.body);
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace hc
