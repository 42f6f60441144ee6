#include "agent/agent_config_file.h"

#include <fmt/format.h>

#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

#include "common/json.h"
#include "common/log.h"
#include "leaderelection/leader_elector.h"
#include "protocol/messages.h"

namespace srexpert::agent {

namespace {

using std::chrono::milliseconds;

std::string Join(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  return fmt::format("{}.{}", prefix, key);
}

// Reads typed members of one JSON object; the first problem wins and names
// the field by its dotted path.
class Reader {
 public:
  explicit Reader(std::vector<std::string>* unknown) : unknown_(unknown) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  bool Fail(std::string_view path, std::string_view message) {
    if (error_.empty()) error_ = fmt::format("{}: {}", path, message);
    return false;
  }

  // Records members of `obj` that are not in `known`.
  void Unknown(const json::Value& obj, std::string_view prefix,
               std::initializer_list<std::string_view> known) {
    if (!unknown_) return;
    for (const auto& m : obj.GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      bool found = false;
      for (auto k : known) found = found || k == name;
      if (!found) unknown_->push_back(Join(prefix, name));
    }
  }

  // The object member `key`: nullptr when absent (an error if `required`) or
  // not an object (always an error).
  const json::Value* Object(const json::Value& obj, std::string_view prefix, std::string_view key,
                            bool required) {
    const json::Value* v = Member(obj, key);
    if (!v) {
      if (required) Fail(Join(prefix, key), "required");
      return nullptr;
    }
    if (!v->IsObject()) {
      Fail(Join(prefix, key), "must be an object");
      return nullptr;
    }
    return v;
  }

  void String(const json::Value& obj, std::string_view prefix, std::string_view key,
              std::string* out, bool required) {
    const json::Value* v = Member(obj, key);
    if (!v) {
      if (required) Fail(Join(prefix, key), "required");
      return;
    }
    if (!v->IsString()) {
      Fail(Join(prefix, key), "must be a string");
      return;
    }
    out->assign(v->GetString(), v->GetStringLength());
    if (required && out->empty()) Fail(Join(prefix, key), "must not be empty");
  }

  void Bool(const json::Value& obj, std::string_view prefix, std::string_view key, bool* out) {
    const json::Value* v = Member(obj, key);
    if (!v) return;
    if (!v->IsBool()) {
      Fail(Join(prefix, key), "must be true or false");
      return;
    }
    *out = v->GetBool();
  }

  void Int(const json::Value& obj, std::string_view prefix, std::string_view key, int64_t* out,
           int64_t min, int64_t max, bool required = false) {
    const json::Value* v = Member(obj, key);
    if (!v) {
      if (required) Fail(Join(prefix, key), "required");
      return;
    }
    if (!v->IsInt64()) {
      Fail(Join(prefix, key), "must be an integer");
      return;
    }
    int64_t n = v->GetInt64();
    if (n < min || n > max) {
      Fail(Join(prefix, key), fmt::format("{} is out of range [{}, {}]", n, min, max));
      return;
    }
    *out = n;
  }

  // Durations in milliseconds: positive integers (at most 30 days).
  void Millis(const json::Value& obj, std::string_view prefix, std::string_view key,
              milliseconds* out) {
    int64_t ms = out->count();
    Int(obj, prefix, key, &ms, 1, int64_t{30} * 24 * 3600 * 1000);
    *out = milliseconds(ms);
  }

  void Number(const json::Value& obj, std::string_view prefix, std::string_view key, double* out,
              double min, double max) {
    const json::Value* v = Member(obj, key);
    if (!v) return;
    if (!v->IsNumber()) {
      Fail(Join(prefix, key), "must be a number");
      return;
    }
    double d = v->GetDouble();
    if (!(d >= min && d <= max)) {
      Fail(Join(prefix, key), fmt::format("{} is out of range [{}, {}]", d, min, max));
      return;
    }
    *out = d;
  }

  void Strings(const json::Value& obj, std::string_view prefix, std::string_view key,
               std::vector<std::string>* out) {
    const json::Value* v = Member(obj, key);
    if (!v) return;
    if (!v->IsArray()) {
      Fail(Join(prefix, key), "must be an array of strings");
      return;
    }
    out->clear();
    size_t i = 0;
    for (const auto& item : v->GetArray()) {
      if (!item.IsString()) {
        Fail(fmt::format("{}[{}]", Join(prefix, key), i), "must be a string");
        return;
      }
      out->emplace_back(item.GetString(), item.GetStringLength());
      ++i;
    }
  }

 private:
  static const json::Value* Member(const json::Value& obj, std::string_view key) {
    auto it = obj.FindMember(rapidjson::StringRef(key.data(), key.size()));
    if (it == obj.MemberEnd()) return nullptr;
    return &it->value;
  }

  std::vector<std::string>* unknown_;
  std::string error_;
};

void ReadBackend(Reader& r, const json::Value& root, AgentSettings::Backend* b) {
  const json::Value* v = r.Object(root, "", "backend", true);
  if (!v) return;
  r.Unknown(*v, "backend", {"url", "insecure", "caFile", "proxy"});
  r.String(*v, "backend", "url", &b->url, true);
  r.Bool(*v, "backend", "insecure", &b->insecure);
  r.String(*v, "backend", "caFile", &b->ca_file, false);
  if (const json::Value* p = r.Object(*v, "backend", "proxy", false)) {
    AgentSettings::Proxy proxy;
    r.Unknown(*p, "backend.proxy", {"url", "noProxy"});
    r.String(*p, "backend.proxy", "url", &proxy.url, true);
    r.Strings(*p, "backend.proxy", "noProxy", &proxy.no_proxy);
    b->proxy = std::move(proxy);
  }
  if (!r.ok()) return;
  bool wss = b->url.rfind("wss://", 0) == 0;
  bool ws = b->url.rfind("ws://", 0) == 0;
  if (!wss && !ws) {
    r.Fail("backend.url", "must start with wss:// (or ws:// with backend.insecure)");
  } else if (ws && !b->insecure) {
    r.Fail("backend.url", "ws:// needs backend.insecure: true");
  }
}

void ReadLeaderElection(Reader& r, const json::Value& root, AgentSettings::LeaderElection* le) {
  const json::Value* v = r.Object(root, "", "leaderElection", true);
  if (!v) return;
  const char* p = "leaderElection";
  r.Unknown(*v, p,
            {"leaseName", "leaseNamespace", "leaseDurationMs", "renewDeadlineMs", "retryPeriodMs"});
  r.String(*v, p, "leaseName", &le->lease_name, true);
  r.String(*v, p, "leaseNamespace", &le->lease_namespace, false);
  r.Millis(*v, p, "leaseDurationMs", &le->lease_duration);
  r.Millis(*v, p, "renewDeadlineMs", &le->renew_deadline);
  r.Millis(*v, p, "retryPeriodMs", &le->retry_period);
  if (!r.ok()) return;
  leaderelection::ElectionConfig ec;
  ec.identity = "check";
  ec.lease_duration = le->lease_duration;
  ec.renew_deadline = le->renew_deadline;
  ec.retry_period = le->retry_period;
  if (auto why = leaderelection::Validate(ec); !why.empty()) r.Fail(p, why);
}

void ReadTunnel(Reader& r, const json::Value& root, AgentSettings::Tunnel* t) {
  const json::Value* v = r.Object(root, "", "tunnel", false);
  if (!v) return;
  const char* p = "tunnel";
  r.Unknown(*v, p, {"pingIntervalMs", "pongTimeoutMs", "maxMessageBytes", "backoff"});
  r.Millis(*v, p, "pingIntervalMs", &t->ping_interval);
  r.Millis(*v, p, "pongTimeoutMs", &t->pong_timeout);
  // The protocol floor (docs/protocol.md, "Limits"); the CRD has the same.
  r.Int(*v, p, "maxMessageBytes", &t->max_message_bytes, protocol::kMinMaxMessageBytes,
        std::numeric_limits<int32_t>::max());
  if (const json::Value* b = r.Object(*v, p, "backoff", false)) {
    const char* bp = "tunnel.backoff";
    r.Unknown(*b, bp, {"initialMs", "maxMs", "multiplier"});
    r.Millis(*b, bp, "initialMs", &t->backoff.initial);
    r.Millis(*b, bp, "maxMs", &t->backoff.max);
    r.Number(*b, bp, "multiplier", &t->backoff.multiplier, 1.0, 10.0);
    if (r.ok() && t->backoff.max < t->backoff.initial) {
      r.Fail("tunnel.backoff.maxMs",
             fmt::format("{} must not be less than initialMs ({})", t->backoff.max.count(),
                         t->backoff.initial.count()));
    }
  }
}

void ReadWorkSettings(Reader& r, const json::Value& root, AgentSettings* s) {
  if (const json::Value* c = r.Object(root, "", "collection", false)) {
    r.Unknown(*c, "collection",
              {"events", "metrics", "excludedNamespaces", "metricsIntervalMs", "eventsPerSecond",
               "eventBurst"});
    r.Bool(*c, "collection", "events", &s->collection.events);
    r.Bool(*c, "collection", "metrics", &s->collection.metrics);
    r.Strings(*c, "collection", "excludedNamespaces", &s->collection.excluded_namespaces);
    r.Millis(*c, "collection", "metricsIntervalMs", &s->collection.metrics_interval);
    r.Number(*c, "collection", "eventsPerSecond", &s->collection.events_per_second, 0.1, 100000.0);
    int64_t burst = s->collection.event_burst;
    r.Int(*c, "collection", "eventBurst", &burst, 1, 100000);
    s->collection.event_burst = static_cast<int>(burst);
  }
  if (const json::Value* c = r.Object(root, "", "stream", false)) {
    r.Unknown(*c, "stream", {"maxUnackedBytes", "maxUnackedMessages", "batchIntervalMs"});
    r.Int(*c, "stream", "maxUnackedBytes", &s->stream.max_unacked_bytes, 64 * 1024,
          int64_t{1} << 34);
    r.Int(*c, "stream", "maxUnackedMessages", &s->stream.max_unacked_messages, 1, 65536);
    r.Millis(*c, "stream", "batchIntervalMs", &s->stream.batch_interval);
  }
  if (const json::Value* c = r.Object(root, "", "scans", false)) {
    r.Unknown(*c, "scans", {"enabled", "intervalMs", "config"});
    r.Bool(*c, "scans", "enabled", &s->scans.enabled);
    r.Millis(*c, "scans", "intervalMs", &s->scans.interval);
    // The operator validated it with the same parser (api::Parse), so an
    // error here means a hand-edited ConfigMap: refuse to start rather
    // than scan with a configuration other than the one written.
    if (const json::Value* config = r.Object(*c, "scans", "config", false)) {
      auto compiled = std::make_shared<scan::ScanConfig>();
      std::string why = scan::ParseConfig(json::Dump(*config), compiled.get());
      if (!why.empty()) {
        r.Fail("scans.config", why);
      } else {
        s->scans.config = std::move(compiled);
      }
    }
  }
  if (const json::Value* c = r.Object(root, "", "actions", false)) {
    r.Unknown(*c, "actions",
              {"scale", "restart", "deletePods", "nodes", "applyManifests", "helm", "namespaces"});
    r.Bool(*c, "actions", "scale", &s->actions.scale);
    r.Bool(*c, "actions", "restart", &s->actions.restart);
    r.Bool(*c, "actions", "deletePods", &s->actions.delete_pods);
    r.Bool(*c, "actions", "nodes", &s->actions.nodes);
    r.Bool(*c, "actions", "applyManifests", &s->actions.apply_manifests);
    r.Bool(*c, "actions", "helm", &s->actions.helm);
    r.Strings(*c, "actions", "namespaces", &s->actions.namespaces);
  }
}

}  // namespace

std::optional<AgentSettings> ParseAgentSettings(std::string_view text, std::string* error,
                                                std::vector<std::string>* unknown_fields) {
  auto fail = [&](std::string message) -> std::optional<AgentSettings> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  std::string parse_error;
  auto doc = json::Parse(text, &parse_error);
  if (!doc) return fail(parse_error);
  if (!doc->IsObject()) return fail("the configuration must be a JSON object");

  std::vector<std::string> unknown;
  Reader r(&unknown);
  AgentSettings s;
  r.Unknown(*doc, "",
            {"version", "clusterName", "backend", "tokenFile", "logLevel", "healthPort",
             "leaderElection", "tunnel", "collection", "stream", "scans", "actions"});
  int64_t version = 0;
  r.Int(*doc, "", "version", &version, 0, std::numeric_limits<int32_t>::max(), true);
  if (r.ok() && version != kConfigFileVersion) {
    r.Fail("version", fmt::format("unsupported version {} (this agent reads version {})", version,
                                  kConfigFileVersion));
  }
  r.String(*doc, "", "clusterName", &s.cluster_name, false);
  ReadBackend(r, *doc, &s.backend);
  r.String(*doc, "", "tokenFile", &s.token_file, true);
  r.String(*doc, "", "logLevel", &s.log_level, false);
  if (r.ok()) {
    log::Level level;
    if (!log::ParseLevel(s.log_level, &level)) {
      r.Fail("logLevel", fmt::format("\"{}\" is not one of debug, info, warn, error", s.log_level));
    }
  }
  int64_t port = s.health_port;
  r.Int(*doc, "", "healthPort", &port, 1, 65535);
  s.health_port = static_cast<int>(port);
  ReadLeaderElection(r, *doc, &s.leader_election);
  ReadTunnel(r, *doc, &s.tunnel);
  ReadWorkSettings(r, *doc, &s);
  if (!r.ok()) return fail(r.error());
  if (unknown_fields) *unknown_fields = std::move(unknown);
  return s;
}

std::optional<AgentSettings> LoadAgentSettings(const std::string& path, std::string* error,
                                               std::vector<std::string>* unknown_fields) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = fmt::format("{}: cannot open the configuration file", path);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    if (error) *error = fmt::format("{}: cannot read the configuration file", path);
    return std::nullopt;
  }
  std::string why;
  auto settings = ParseAgentSettings(text.str(), &why, unknown_fields);
  if (!settings && error) *error = fmt::format("{}: {}", path, why);
  return settings;
}

}  // namespace srexpert::agent
