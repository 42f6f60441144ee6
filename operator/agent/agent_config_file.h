// The agent's configuration file, config.json (docs/agentconfig.md, "Agent
// contract"), written by srexpert-operator from the AgentConfig
// (controller::AgentConfigFile) and mounted from the ConfigMap.
//
// Parsing is strict about what it knows: a known field with the wrong JSON
// type or an out-of-range value is an error that names the field
// ("leaderElection.retryPeriodMs: must be a positive integer"). Unknown fields
// are ignored — an operator newer than the agent may add some within
// "version": 1 — and reported through `unknown_fields` so the agent can log
// them. Missing optional fields take the AgentConfig CRD's defaults.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/backoff.h"
#include "scan/config.h"

namespace srexpert::agent {

inline constexpr int kConfigFileVersion = 1;
inline constexpr const char* kDefaultConfigFile = "/etc/srexpert/config/config.json";
inline constexpr const char* kConfigFileEnv = "SRX_CONFIG_FILE";
inline constexpr int kDefaultHealthPort = 8081;

struct AgentSettings {
  std::string cluster_name;  // informational; the backend names the cluster by token

  struct Proxy {
    std::string url;
    std::vector<std::string> no_proxy;
  };
  struct Backend {
    std::string url;        // required: wss://… (ws:// only with insecure)
    bool insecure = false;  // allows ws://
    std::string ca_file;    // extra trusted CAs; empty = system CAs only
    // Explicit proxy; without it HTTPS_PROXY/NO_PROXY from the environment.
    std::optional<Proxy> proxy;
  } backend;

  std::string token_file;  // required; re-read on every connect
  std::string log_level = "info";
  int health_port = kDefaultHealthPort;

  struct LeaderElection {
    std::string lease_name;       // required
    std::string lease_namespace;  // empty = the pod's namespace
    std::chrono::milliseconds lease_duration{15000};
    std::chrono::milliseconds renew_deadline{10000};
    std::chrono::milliseconds retry_period{2000};
  } leader_election;

  struct Tunnel {
    std::chrono::milliseconds ping_interval{20000};
    std::chrono::milliseconds pong_timeout{10000};
    int64_t max_message_bytes = 16 * 1024 * 1024;
    BackoffPolicy backoff;  // initial 1 s, max 60 s, multiplier 2
  } tunnel;

  // What the leader collects (docs/streaming.md).
  struct Collection {
    bool events = true;
    bool metrics = true;
    std::vector<std::string> excluded_namespaces;
    std::chrono::milliseconds metrics_interval{60000};
    double events_per_second = 50;  // sustained event rate sent upstream
    int event_burst = 200;
  } collection;
  // The state stream's bounds (docs/protocol.md, "Agent stream buffer").
  struct Stream {
    int64_t max_unacked_bytes = 4 * 1024 * 1024;
    int64_t max_unacked_messages = 256;
    std::chrono::milliseconds batch_interval{50};
  } stream;
  // The leader's scans (agent/scan_runner.h).
  struct Scans {
    bool enabled = true;
    std::chrono::milliseconds interval{3600000};
    // scans.config: spec.scans' Polaris-format configuration (severities,
    // exemptions, custom checks), compiled by scan::ParseConfig; null when
    // the AgentConfig sets none (every check at its own severity).
    std::shared_ptr<const scan::ScanConfig> config;
  } scans;
  struct Actions {
    bool scale = false;
    bool restart = false;
    bool delete_pods = false;
    bool nodes = false;
    bool apply_manifests = false;
    bool helm = false;
    std::vector<std::string> namespaces;  // empty: every non-system namespace
  } actions;
};

// Parses config.json text. nullopt and `error` ("<field>: <problem>", or the
// JSON syntax error with its offset) on failure. `unknown_fields`, when given,
// receives the dotted paths of ignored members.
std::optional<AgentSettings> ParseAgentSettings(std::string_view text, std::string* error,
                                                std::vector<std::string>* unknown_fields = nullptr);

// Reads and parses `path`; errors start with the path.
std::optional<AgentSettings> LoadAgentSettings(const std::string& path, std::string* error,
                                               std::vector<std::string>* unknown_fields = nullptr);

}  // namespace srexpert::agent
