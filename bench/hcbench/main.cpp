// hcbench: load generator and server for the benchmark harness (bench/run.py). Loopback only by design: every
// address defaults to 127.0.0.1 and results are JSON lines on stdout.
//
//   hcbench server     [--listen HOST:PORT | --hc ...]   sink for throughput streams, echo for everything else
//   hcbench throughput [--connect HOST:PORT | --hc ...] --streams N --bytes B
//   hcbench latency    ... --count N --seconds S --size 64
//   hcbench setup      ... --count N --seconds S --concurrency C
//   hcbench idle       ... --count N --concurrency C [--hold S]   (holds until stdin reaches EOF)
//
// --hc-endpoint ws[s]://127.0.0.1:PORT/ --hc NAME --key-name K talks the HC protocol straight to a relay (the
// relay-only chain); the key is read from the environment variable HCBENCH_KEY so it never shows in `ps`.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "clients.hpp"
#include "conn.hpp"
#include "hc/url.hpp"
#include "report.hpp"
#include "server.hpp"

namespace {

bench::Endpoint parse_endpoint(const std::string& host_port, const std::string& hc_endpoint, const std::string& hc,
                               const std::string& key_name, const std::string& ca_file) {
  bench::Endpoint e;
  if (!hc_endpoint.empty()) {
    auto uri = hc::parse_uri(hc_endpoint);
    if (!uri.ok() || (uri->scheme != "ws" && uri->scheme != "wss"))
      throw CLI::ValidationError("--hc-endpoint", "want ws:// or wss://");
    e.hc = true;
    e.tls = uri->scheme == "wss";
    e.host = uri->host;
    e.port = uri->port;
    e.hc_name = hc;
    e.key_name = key_name;
    e.ca_file = ca_file;
    if (const char* key = std::getenv("HCBENCH_KEY")) e.key = key;
    if (!key_name.empty() && e.key.empty()) throw CLI::ValidationError("--key-name", "set HCBENCH_KEY to the key");
    return e;
  }
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos) throw CLI::ValidationError("address", "want HOST:PORT, got '" + host_port + "'");
  e.host = host_port.substr(0, colon);
  e.port = static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1)));
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hcbench - load generator and server for the hcbridge benchmarks (loopback)"};
  app.require_subcommand(1);
  std::string address = "127.0.0.1:0", hc_endpoint, hc_name = "bench", key_name, ca_file;
  double timeout = 120;
  auto add_common = [&](CLI::App* sub, const char* address_flag) {
    sub->add_option(address_flag, address, "TCP address HOST:PORT");
    sub->add_option("--hc-endpoint", hc_endpoint, "Relay ws://HOST:PORT/ or wss://...: speak HC, no daemon");
    sub->add_option("--hc", hc_name, "Hybrid connection name (with --hc-endpoint)");
    sub->add_option("--key-name", key_name, "SAS rule name; the key is in $HCBENCH_KEY");
    sub->add_option("--ca-file", ca_file, "PEM file to verify a wss:// relay");
    sub->add_option("--timeout", timeout, "Give up (exit 3) after this many seconds");
  };

  auto* server = app.add_subcommand("server", "Sink throughput streams, echo everything else (until SIGTERM)");
  add_common(server, "--listen");

  bench::ThroughputOptions tp;
  auto* throughput = app.add_subcommand("throughput", "N parallel streams of verified bytes");
  add_common(throughput, "--connect");
  throughput->add_option("--streams", tp.streams)->check(CLI::Range(1, 10000));
  throughput->add_option("--bytes", tp.bytes_per_stream, "Bytes per stream");
  throughput->add_option("--chunk", tp.chunk, "Bytes per write")->check(CLI::Range(1, 256 << 10));

  bench::LatencyOptions lat;
  auto* latency = app.add_subcommand("latency", "Request/response round trips, one in flight");
  add_common(latency, "--connect");
  latency->add_option("--count", lat.count);
  latency->add_option("--warmup", lat.warmup);
  latency->add_option("--seconds", lat.seconds);
  latency->add_option("--size", lat.size)->check(CLI::Range(16, 65536));

  bench::SetupOptions su;
  auto* setup = app.add_subcommand("setup", "New connections, one round trip each");
  add_common(setup, "--connect");
  setup->add_option("--count", su.count);
  setup->add_option("--seconds", su.seconds);
  setup->add_option("--concurrency", su.concurrency)->check(CLI::Range(1, 10000));

  bench::IdleOptions idle;
  auto* idle_cmd = app.add_subcommand("idle", "Open N connections (one round trip each) and hold them");
  add_common(idle_cmd, "--connect");
  idle_cmd->add_option("--count", idle.count);
  idle_cmd->add_option("--concurrency", idle.concurrency)->check(CLI::Range(1, 10000));
  idle_cmd->add_option("--hold", idle.hold_seconds, "Seconds to hold (default: until stdin reaches EOF)");

  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    asio::io_context io;
    const auto endpoint = parse_endpoint(address, hc_endpoint, hc_name, key_name, ca_file);
    int exit_code = 0;
    auto done = [&](int code) {
      exit_code = code;
      io.stop();
    };
    asio::steady_timer deadline(
        io, std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout)));
    asio::signal_set signals(io, SIGTERM, SIGINT);

    bench::ServerStats stats;
    std::unique_ptr<bench::Listener> listener;
    std::unique_ptr<bench::Dialer> dialer;
    if (server->parsed()) {
      listener = std::make_unique<bench::Listener>(io, endpoint, [&stats](auto conn) { bench::serve(conn, stats); });
      listener->start([&](std::error_code ec, const std::string& what, uint16_t port) {
        if (ec) {
          bench::JsonLine().add("event", "error").add("error", what).print();
          return done(1);
        }
        bench::JsonLine().add("event", "listening").add("port", static_cast<int>(port)).print();
      });
      signals.async_wait([&](std::error_code, int) {
        bench::JsonLine()
            .add("event", "server_done")
            .add("sink_streams", stats.sink_streams)
            .add("sink_bad", stats.sink_bad)
            .add("sink_bytes", stats.sink_bytes)
            .add("echo_connections", stats.echo_connections)
            .print();
        done(stats.sink_bad == 0 ? 0 : 1);
      });
    } else {
      dialer = std::make_unique<bench::Dialer>(io, endpoint);
      if (throughput->parsed()) bench::run_throughput(io, *dialer, tp, done);
      if (latency->parsed()) bench::run_latency(io, *dialer, lat, done);
      if (setup->parsed()) bench::run_setup(io, *dialer, su, done);
      if (idle_cmd->parsed()) bench::run_idle(io, *dialer, idle, done);
      deadline.async_wait([&](std::error_code ec) {
        if (ec) return;
        bench::JsonLine()
            .add("event", "error")
            .add("error", "timed out after " + std::to_string(timeout) + " s")
            .print();
        exit_code = 3;
        io.stop();
      });
      signals.async_wait([&](std::error_code ec, int) {
        if (!ec) done(2);
      });
    }
    io.run();
    // Pending handlers may hold connections; exit without tearing 10,000 of them down one by one.
    std::fflush(stdout);
    std::_Exit(exit_code);
  } catch (const std::exception& e) {
    bench::JsonLine().add("event", "error").add("error", e.what()).print();
    return 1;
  }
}
