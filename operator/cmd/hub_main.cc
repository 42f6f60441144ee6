// srexpert-hub: the reference backend end of the tunnel (docs/protocol.md,
// "srexpert-hub"). A thin main: flags into HubOptions, then RunHub().
#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "api/agent_config.h"
#include "common/log.h"
#include "hub/hub.h"
#include "hub/install_manifest.h"
#include "protocol/messages.h"

using namespace srexpert;

namespace {

// Go-style durations ("15s", "1m", "500ms"), as in the AgentConfig.
bool ParseDurationFlag(const std::string& flag, const std::string& text,
                       std::chrono::milliseconds* out) {
  auto d = api::ParseDuration(text);
  if (!d || d->count() <= 0) {
    log::Error("invalid duration", {{"flag", flag}, {"value", text}});
    return false;
  }
  *out = *d;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  hub::HubOptions o;
  std::string handshake_timeout = "15s", idle_timeout = "1m", log_level = "info",
              log_format = "json";
  bool disable_api = false;
  hub::InstallEndpointOptions install;
  CLI::App app{"srexpert-hub: reference backend for srexpert-agent tunnels"};
  app.add_option("--bind-address", o.bind_address, "Address of the tunnel listener")
      ->capture_default_str();
  app.add_option("--port", o.port,
                 "Port of the tunnel listener (wss, path /api/v1/tunnel); 0 picks one")
      ->capture_default_str();
  app.add_option("--tls-cert-file", o.tls_cert_file,
                 "PEM certificate chain of the tunnel listener");
  app.add_option("--tls-key-file", o.tls_key_file, "PEM private key of the tunnel listener");
  app.add_flag("--insecure-plain", o.allow_plain_ws,
               "Serve plain ws:// without TLS (development only; agents need backend.insecure)");
  app.add_option("--tokens-file", o.tokens_file,
                 "JSON file mapping registration tokens to cluster names; re-read when it changes")
      ->required();
  app.add_option("--state-file", o.state_file,
                 "SQLite file keeping each cluster's streamed state and last ack across restarts "
                 "(default: in memory)");
  app.add_option("--max-events-per-cluster", o.max_events_per_cluster,
                 "Events kept per cluster; the oldest go first")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  app.add_option("--public-url", install.public_url,
                 "Tunnel URL as agents reach this hub (wss://<host>:<port>/api/v1/tunnel); "
                 "enables the one-line install GET /install.yaml?token=... on the tunnel port")
      ->capture_default_str();
  app.add_option("--public-ca-file", install.public_ca_file,
                 "PEM CA bundle put into /install.yaml for the agents (default: the "
                 "certificates of --tls-cert-file)");
  app.add_option("--api-bind-address", o.api_bind_address, "Address of the REST API")
      ->capture_default_str();
  app.add_option("--api-port", o.api_port, "Port of the REST API; 0 picks one")
      ->capture_default_str();
  app.add_flag("--api-tls", o.api_tls, "Serve the REST API over HTTPS with the tunnel certificate");
  app.add_option("--users-file", o.users_file,
                 "JSON file of REST API users (bearer token or its sha256, role viewer|operator, "
                 "optional clusters); re-read when it changes. Required, with --api-tls, when "
                 "--api-bind-address is not loopback");
  app.add_flag("--disable-api", disable_api, "Do not serve the REST API");
  app.add_option("--max-message-bytes", o.max_message_bytes,
                 "Largest message accepted from an agent")
      ->capture_default_str()
      ->check(CLI::Range(protocol::kMinMaxMessageBytes, int64_t{2147483647}));
  app.add_option("--max-in-flight-requests", o.max_in_flight_requests,
                 "Most requests outstanding per agent")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  app.add_option("--handshake-timeout", handshake_timeout, "Upgrade plus hello within this long")
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_timeout,
                 "Drop an agent silent for this long (the hub pings at half of it)")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--log-format", log_format, "json or text")->capture_default_str();
  app.set_version_flag("--version", SREXPERT_VERSION);
  CLI11_PARSE(app, argc, argv);

  log::Level level;
  if (!log::ParseLevel(log_level, &level)) {
    log::Error("invalid --log-level", {{"value", log_level}});
    return 2;
  }
  log::SetLevel(level);
  log::SetFormat(log_format);
  if (!ParseDurationFlag("--handshake-timeout", handshake_timeout, &o.handshake_timeout) ||
      !ParseDurationFlag("--idle-timeout", idle_timeout, &o.idle_timeout)) {
    return 2;
  }
  if ((o.tls_cert_file.empty()) != (o.tls_key_file.empty())) {
    log::Error("--tls-cert-file and --tls-key-file go together");
    return 2;
  }
  o.api_enabled = !disable_api;
  // The one-line install: answered on the tunnel listener, the hub's public
  // port; without --public-url it answers 503 with how to enable it.
  install.tls_cert_file = o.tls_cert_file;
  install.tokens_file = o.tokens_file;
  auto endpoint = std::make_shared<hub::InstallEndpoint>(install);
  std::string install_error;
  if (!endpoint->Load(&install_error)) {
    log::Error("cannot serve /install.yaml", {{"error", install_error}});
    return 2;
  }
  o.tunnel_http = [endpoint](std::string_view method, std::string_view target)
      -> std::optional<hub::HubOptions::PlainResponse> {
    auto r = endpoint->Handle(method, target);
    if (!r) return std::nullopt;
    return hub::HubOptions::PlainResponse{r->status, r->content_type, std::move(r->body)};
  };
  o.version = SREXPERT_VERSION;
  return hub::RunHub(o);
}
