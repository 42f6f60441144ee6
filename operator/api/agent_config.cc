#include "api/agent_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "api/names.h"
#include "api/validation.h"
#include "common/json.h"
#include "scan/catalogue.h"
#include "scan/config.h"

namespace srexpert::api {

namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// Nulls count as absent: the apiserver prunes null values of non-nullable
// fields before defaulting, and no AgentConfig field is nullable.
const Value* Member(const Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(
      Value::StringRefType(key.data(), static_cast<rapidjson::SizeType>(key.size())));
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

// ---------------------------------------------------------------- defaults

void Default(Value& obj, std::string_view key, std::string_view json_literal, Allocator& alloc) {
  if (Member(obj, key) != nullptr) return;
  rapidjson::Document literal;
  literal.Parse(json_literal.data(), json_literal.size());
  json::Set(obj, key, Value(literal, alloc), alloc);
}

// The object member `key`, or nullptr when absent or not an object.
Value* Object(Value& obj, std::string_view key) {
  Value* v = json::FindMutable(obj, {key});
  return v != nullptr && v->IsObject() ? v : nullptr;
}

// ----------------------------------------------------------------- reading

// Reads typed fields out of JSON, recording one FieldError per problem. A
// field of the wrong type is reported and then treated as absent, so one bad
// field never hides errors elsewhere.
class Reader {
 public:
  explicit Reader(std::vector<FieldError>* errors) : errors_(errors) {}

  void Error(std::string path, std::string message) {
    errors_->push_back({std::move(path), std::move(message)});
  }
  size_t ErrorCount() const { return errors_->size(); }

  const Value* Get(const Value& obj, std::string_view key, const std::string& path, bool required) {
    const Value* v = Member(obj, key);
    if (v == nullptr && required) Error(path, "required");
    return v;
  }

  const Value* GetObject(const Value& obj, std::string_view key, const std::string& path,
                         bool required) {
    const Value* v = Get(obj, key, path, required);
    if (v != nullptr && !v->IsObject()) {
      Error(path, "must be an object");
      return nullptr;
    }
    return v;
  }

  const Value* GetArray(const Value& obj, std::string_view key, const std::string& path,
                        size_t max_items) {
    const Value* v = Get(obj, key, path, false);
    if (v == nullptr) return nullptr;
    if (!v->IsArray()) {
      Error(path, "must be an array");
      return nullptr;
    }
    if (v->Size() > max_items) {
      Error(path, fmt::format("must have at most {} items", max_items));
      return nullptr;
    }
    return v;
  }

  std::optional<std::string> GetString(const Value& obj, std::string_view key,
                                       const std::string& path, bool required) {
    const Value* v = Get(obj, key, path, required);
    if (v == nullptr) return std::nullopt;
    if (!v->IsString()) {
      Error(path, "must be a string");
      return std::nullopt;
    }
    return std::string(v->GetString(), v->GetStringLength());
  }

  // A string that must satisfy `valid` (described by `expectation`).
  std::string GetChecked(const Value& obj, std::string_view key, const std::string& path,
                         bool required, const std::function<bool(std::string_view)>& valid,
                         std::string_view expectation) {
    auto s = GetString(obj, key, path, required);
    if (!s) return {};
    if (!valid(*s)) {
      Error(path, std::string(expectation));
      return {};
    }
    return *s;
  }

  std::string GetEnum(const Value& obj, std::string_view key, const std::string& path,
                      const std::vector<std::string_view>& allowed, std::string fallback) {
    auto s = GetString(obj, key, path, false);
    if (!s) return fallback;
    if (std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", a);
      Error(path, fmt::format("must be one of {}", list));
      return fallback;
    }
    return *s;
  }

  bool GetBool(const Value& obj, std::string_view key, const std::string& path, bool fallback) {
    const Value* v = Get(obj, key, path, false);
    if (v == nullptr) return fallback;
    if (!v->IsBool()) {
      Error(path, "must be a boolean");
      return fallback;
    }
    return v->GetBool();
  }

  std::optional<int64_t> GetInt(const Value& obj, std::string_view key, const std::string& path,
                                int64_t min, int64_t max) {
    const Value* v = Get(obj, key, path, false);
    if (v == nullptr) return std::nullopt;
    if (!v->IsInt64()) {
      Error(path, "must be an integer");
      return std::nullopt;
    }
    int64_t n = v->GetInt64();
    if (n < min || n > max) {
      Error(path, fmt::format("must be between {} and {}", min, max));
      return std::nullopt;
    }
    return n;
  }

  std::optional<Duration> GetDuration(const Value& obj, std::string_view key,
                                      const std::string& path) {
    auto s = GetString(obj, key, path, false);
    if (!s) return std::nullopt;
    auto d = s->size() <= 32 ? ParseDuration(*s) : std::nullopt;
    if (!d) {
      Error(path, "must be a duration such as 15s, 1m30s or 500ms (units h, m, s, ms)");
      return std::nullopt;
    }
    return d;
  }

  // An object of string values; keys and values checked by the callbacks.
  std::map<std::string, std::string> GetStringMap(
      const Value& obj, std::string_view key, const std::string& path, size_t max_entries,
      const std::function<std::optional<std::string>(std::string_view)>& key_problem,
      const std::function<std::optional<std::string>(std::string_view)>& value_problem) {
    std::map<std::string, std::string> out;
    const Value* m = GetObject(obj, key, path, false);
    if (m == nullptr) return out;
    if (m->MemberCount() > max_entries) {
      Error(path, fmt::format("must have at most {} entries", max_entries));
      return out;
    }
    for (const auto& member : m->GetObject()) {
      std::string k(member.name.GetString(), member.name.GetStringLength());
      std::string entry_path = fmt::format("{}[{}]", path, k);
      if (auto problem = key_problem(k)) {
        Error(entry_path, *problem);
        continue;
      }
      if (!member.value.IsString()) {
        Error(entry_path, "must be a string");
        continue;
      }
      std::string v(member.value.GetString(), member.value.GetStringLength());
      if (auto problem = value_problem(v)) {
        Error(entry_path, *problem);
        continue;
      }
      out.emplace(std::move(k), std::move(v));
    }
    return out;
  }

 private:
  std::vector<FieldError>* errors_;
};

constexpr std::string_view kDnsLabelRule =
    "must be a DNS label: at most 63 lowercase letters, digits or '-', starting and ending with "
    "a letter or digit";
constexpr std::string_view kDnsSubdomainRule =
    "must be a DNS subdomain: at most 253 characters, lowercase letters, digits, '-' and '.'";

bool HasWhitespace(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

// ws[s]://host[:port][/path...] with no userinfo and no whitespace (the CRD pattern).
bool IsWebSocketUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("wss://")) {
    rest = url.substr(6);
  } else if (url.starts_with("ws://")) {
    rest = url.substr(5);
  } else {
    return false;
  }
  if (url.size() > 2048 || HasWhitespace(url)) return false;
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty()) return false;
  return authority.find_first_of("?#@") == std::string_view::npos;
}

// http[s]://[user:pass@]host[:port][/] — no path: CONNECT proxies have none.
bool IsProxyUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  if (url.size() > 2048 || HasWhitespace(url)) return false;
  if (rest.ends_with('/')) rest.remove_suffix(1);
  return !rest.empty() && rest.find_first_of("/?#") == std::string_view::npos;
}

std::optional<std::string> LabelKeyProblem(std::string_view k) {
  if (!IsQualifiedName(k)) {
    return "key must be a qualified name ([prefix/]name, name at most 63 alphanumerics, '-', '_' "
           "or '.')";
  }
  return std::nullopt;
}

std::optional<std::string> LabelValueProblem(std::string_view v) {
  if (!IsLabelValue(v)) {
    return "must be a label value: at most 63 alphanumerics, '-', '_' or '.', starting and "
           "ending with an alphanumeric";
  }
  return std::nullopt;
}

// ------------------------------------------------------------ spec sections

void ReadBackend(Reader& r, const Value& spec, BackendSpec* out) {
  const std::string path = "spec.backend";
  const Value* b = r.GetObject(spec, "backend", path, true);
  if (b == nullptr) return;
  out->insecure = r.GetBool(*b, "insecure", path + ".insecure", false);
  if (auto url = r.GetString(*b, "url", path + ".url", true)) {
    if (!IsWebSocketUrl(*url)) {
      r.Error(path + ".url",
              "must be a wss:// (or, with insecure, ws://) URL with a host and no user info, at "
              "most 2048 characters");
    } else if (!url->starts_with("wss://") && !out->insecure) {
      r.Error(path + ".url", "must use wss:// unless spec.backend.insecure is true");
    } else {
      out->url = *url;
    }
  }
  if (auto ca = r.GetString(*b, "caBundle", path + ".caBundle", false)) {
    if (ca->size() > 262144 || !IsPemCertificateBundle(*ca)) {
      r.Error(path + ".caBundle",
              "must be one or more PEM-encoded X.509 certificates (at most 256 KiB)");
    } else {
      out->ca_bundle = *ca;
    }
  }
  if (const Value* p = r.GetObject(*b, "proxy", path + ".proxy", false)) {
    ProxySpec proxy;
    proxy.url = r.GetChecked(*p, "url", path + ".proxy.url", true, IsProxyUrl,
                             "must be an http:// or https:// URL of the form "
                             "scheme://[user:password@]host[:port]");
    if (const Value* list = r.GetArray(*p, "noProxy", path + ".proxy.noProxy", 128)) {
      for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
        const Value& item = (*list)[i];
        std::string item_path = fmt::format("{}.proxy.noProxy[{}]", path, i);
        if (!item.IsString()) {
          r.Error(item_path, "must be a string");
          continue;
        }
        std::string_view s(item.GetString(), item.GetStringLength());
        if (s.empty() || s.size() > 253 || HasWhitespace(s) || s.find(',') != s.npos) {
          r.Error(item_path,
                  "must be a host, .domain suffix or CIDR: 1..253 characters without spaces or "
                  "commas");
          continue;
        }
        proxy.no_proxy.emplace_back(s);
      }
    }
    out->proxy = std::move(proxy);
  }
}

void ReadToken(Reader& r, const Value& spec, TokenSpec* out) {
  const std::string path = "spec.token";
  const Value* t = r.GetObject(spec, "token", path, true);
  if (t == nullptr) return;
  const bool has_ref = Member(*t, "secretRef") != nullptr;
  const bool has_value = Member(*t, "value") != nullptr;
  if (has_ref == has_value) {
    r.Error(path, "exactly one of secretRef or value must be set");
  }
  if (const Value* ref = r.GetObject(*t, "secretRef", path + ".secretRef", false)) {
    SecretKeyRef secret_ref;
    secret_ref.name = r.GetChecked(*ref, "name", path + ".secretRef.name", true, IsDnsSubdomain,
                                   kDnsSubdomainRule);
    secret_ref.key = r.GetChecked(
        *ref, "key", path + ".secretRef.key", false,
        [](std::string_view k) {
          return !k.empty() && k.size() <= 253 && std::all_of(k.begin(), k.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
          });
        },
        "must be a Secret data key: 1..253 alphanumerics, '-', '_' or '.'");
    out->secret_ref = std::move(secret_ref);
  }
  if (auto value = r.GetString(*t, "value", path + ".value", false)) {
    auto problems = ValidateToken(*value, path + ".value");
    for (auto& p : problems) r.Error(std::move(p.path), std::move(p.message));
    if (problems.empty()) out->value = std::move(*value);
  }
}

void ReadResources(Reader& r, const Value& agent, const std::string& path,
                   ResourceRequirements* out) {
  const Value* res = r.GetObject(agent, "resources", path, false);
  if (res == nullptr) return;
  std::map<std::string, long double> amounts[2];
  std::map<std::string, std::string>* targets[2] = {&out->requests, &out->limits};
  const char* keys[2] = {"requests", "limits"};
  for (int i = 0; i < 2; ++i) {
    std::string list_path = path + "." + keys[i];
    const Value* m = r.GetObject(*res, keys[i], list_path, false);
    if (m == nullptr) continue;
    if (m->MemberCount() > 8) {
      r.Error(list_path, "must have at most 8 entries");
      continue;
    }
    for (const auto& member : m->GetObject()) {
      std::string name(member.name.GetString(), member.name.GetStringLength());
      std::string entry_path = fmt::format("{}[{}]", list_path, name);
      if (!IsQualifiedName(name)) {
        r.Error(entry_path, "resource name must be a qualified name such as cpu or memory");
        continue;
      }
      std::string text;
      if (member.value.IsString()) {
        text.assign(member.value.GetString(), member.value.GetStringLength());
      } else if (member.value.IsInt64()) {
        text = std::to_string(member.value.GetInt64());
      } else {
        r.Error(entry_path, "must be a quantity (string or integer)");
        continue;
      }
      auto amount = ParseQuantity(text);
      if (!amount) {
        r.Error(entry_path, fmt::format("\"{}\" is not a quantity such as 50m, 64Mi or 1", text));
        continue;
      }
      if (*amount < 0) {
        r.Error(entry_path, "must not be negative");
        continue;
      }
      amounts[i][name] = *amount;
      (*targets[i])[name] = text;
    }
  }
  for (const auto& [name, request] : amounts[0]) {
    auto limit = amounts[1].find(name);
    if (limit != amounts[1].end() && limit->second < request) {
      r.Error(fmt::format("{}.limits[{}]", path, name),
              fmt::format("must be at least the request ({})", out->requests[name]));
    }
  }
}

void ReadTolerations(Reader& r, const Value& agent, const std::string& path,
                     std::vector<Toleration>* out) {
  const Value* list = r.GetArray(agent, "tolerations", path, 32);
  if (list == nullptr) return;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const Value& item = (*list)[i];
    std::string p = fmt::format("{}[{}]", path, i);
    if (!item.IsObject()) {
      r.Error(p, "must be an object");
      continue;
    }
    Toleration t;
    t.key = r.GetChecked(
        item, "key", p + ".key", false,
        [](std::string_view k) { return k.empty() || (k.size() <= 317 && IsQualifiedName(k)); },
        "must be a taint key (a qualified name)");
    t.op = r.GetEnum(item, "operator", p + ".operator", {"Exists", "Equal"}, "Equal");
    t.value = r.GetChecked(item, "value", p + ".value", false, IsLabelValue,
                           "must be a taint value: at most 63 alphanumerics, '-', '_' or '.'");
    t.effect = r.GetEnum(item, "effect", p + ".effect",
                         {"", "NoSchedule", "PreferNoSchedule", "NoExecute"}, "");
    t.toleration_seconds =
        r.GetInt(item, "tolerationSeconds", p + ".tolerationSeconds", 0, INT64_MAX);
    if (t.op == "Exists" && !t.value.empty()) {
      r.Error(p + ".value", "must be empty when operator is Exists");
    }
    if (t.op == "Equal" && t.key.empty()) {
      r.Error(p + ".key", "required when operator is Equal");
    }
    if (t.toleration_seconds && t.effect != "NoExecute") {
      r.Error(p + ".tolerationSeconds", "requires effect NoExecute");
    }
    out->push_back(std::move(t));
  }
}

void ReadAgent(Reader& r, const Value& spec, AgentPodSpec* out) {
  const std::string path = "spec.agent";
  const Value* a = r.GetObject(spec, "agent", path, false);
  if (a == nullptr) return;
  out->image = r.GetChecked(
      *a, "image", path + ".image", false,
      [](std::string_view s) { return !s.empty() && s.size() <= 512 && !HasWhitespace(s); },
      "must be an image reference: 1..512 characters without spaces");
  out->image_pull_policy = r.GetEnum(*a, "imagePullPolicy", path + ".imagePullPolicy",
                                     {"Always", "IfNotPresent", "Never"}, "IfNotPresent");
  if (const Value* list = r.GetArray(*a, "imagePullSecrets", path + ".imagePullSecrets", 16)) {
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      std::string p = fmt::format("{}.imagePullSecrets[{}]", path, i);
      if (!(*list)[i].IsObject()) {
        r.Error(p, "must be an object");
        continue;
      }
      std::string name =
          r.GetChecked((*list)[i], "name", p + ".name", true, IsDnsSubdomain, kDnsSubdomainRule);
      if (!name.empty()) out->image_pull_secrets.push_back(std::move(name));
    }
  }
  ReadResources(r, *a, path + ".resources", &out->resources);
  out->node_selector = r.GetStringMap(*a, "nodeSelector", path + ".nodeSelector", 32,
                                      LabelKeyProblem, LabelValueProblem);
  ReadTolerations(r, *a, path + ".tolerations", &out->tolerations);
  out->priority_class_name = r.GetChecked(*a, "priorityClassName", path + ".priorityClassName",
                                          false, IsDnsSubdomain, kDnsSubdomainRule);
  out->pod_labels = r.GetStringMap(
      *a, "podLabels", path + ".podLabels", 64,
      [](std::string_view k) -> std::optional<std::string> {
        const auto& reserved = ReservedLabelKeys();
        if (std::find(reserved.begin(), reserved.end(), k) != reserved.end()) {
          return "is set by the operator and cannot be overridden";
        }
        return LabelKeyProblem(k);
      },
      LabelValueProblem);
  out->pod_annotations = r.GetStringMap(
      *a, "podAnnotations", path + ".podAnnotations", 64,
      [](std::string_view k) -> std::optional<std::string> {
        if (k.starts_with(kReservedAnnotationPrefix)) {
          return fmt::format("the {} prefix is reserved", kReservedAnnotationPrefix);
        }
        return LabelKeyProblem(k);
      },
      [](std::string_view v) -> std::optional<std::string> {
        if (v.size() > 4096) return "must be at most 4096 characters";
        return std::nullopt;
      });
  out->log_level =
      r.GetEnum(*a, "logLevel", path + ".logLevel", {"debug", "info", "warn", "error"}, "info");
}

void ReadLeaderElection(Reader& r, const Value& spec, LeaderElectionSpec* out) {
  const std::string path = "spec.leaderElection";
  const Value* le = r.GetObject(spec, "leaderElection", path, false);
  if (le == nullptr) return;
  auto lease = r.GetDuration(*le, "leaseDuration", path + ".leaseDuration");
  auto renew = r.GetDuration(*le, "renewDeadline", path + ".renewDeadline");
  auto retry = r.GetDuration(*le, "retryPeriod", path + ".retryPeriod");
  if (lease) out->lease_duration = *lease;
  if (renew) out->renew_deadline = *renew;
  if (retry) out->retry_period = *retry;
  if (!lease || !renew || !retry) return;
  if (*renew >= *lease) {
    r.Error(path + ".renewDeadline",
            fmt::format("must be less than leaseDuration ({})", FormatDuration(*lease)));
  }
  if (retry->count() <= 0) {
    r.Error(path + ".retryPeriod", "must be positive");
  } else if (*retry >= *renew) {
    r.Error(path + ".retryPeriod",
            fmt::format("must be less than renewDeadline ({})", FormatDuration(*renew)));
  } else if (renew->count() * 5 <= retry->count() * 6) {
    // client-go rejects renewDeadline <= JitterFactor(1.2) * retryPeriod: the
    // leader must get more than one jittered retry before it gives up.
    r.Error(path + ".renewDeadline",
            fmt::format("must be greater than 1.2 × retryPeriod ({})", FormatDuration(*retry)));
  }
}

void ReadTunnel(Reader& r, const Value& spec, TunnelSpec* out) {
  const std::string path = "spec.tunnel";
  const Value* t = r.GetObject(spec, "tunnel", path, false);
  if (t == nullptr) return;
  if (auto d = r.GetDuration(*t, "pingInterval", path + ".pingInterval")) {
    if (d->count() <= 0) r.Error(path + ".pingInterval", "must be positive");
    out->ping_interval = *d;
  }
  if (auto d = r.GetDuration(*t, "pongTimeout", path + ".pongTimeout")) {
    if (d->count() <= 0) r.Error(path + ".pongTimeout", "must be positive");
    out->pong_timeout = *d;
  }
  if (auto n = r.GetInt(*t, "maxMessageBytes", path + ".maxMessageBytes", 65536, 268435456)) {
    out->max_message_bytes = *n;
  }
  const std::string bpath = path + ".backoff";
  const Value* b = r.GetObject(*t, "backoff", bpath, false);
  if (b == nullptr) return;
  auto initial = r.GetDuration(*b, "initial", bpath + ".initial");
  auto max = r.GetDuration(*b, "max", bpath + ".max");
  if (initial) out->backoff.initial = *initial;
  if (max) out->backoff.max = *max;
  if (initial && initial->count() <= 0) {
    r.Error(bpath + ".initial", "must be positive");
  } else if (initial && max && *initial > *max) {
    r.Error(bpath + ".initial", fmt::format("must not exceed max ({})", FormatDuration(*max)));
  }
  if (const Value* m = r.Get(*b, "multiplier", bpath + ".multiplier", false)) {
    if (!m->IsNumber()) {
      r.Error(bpath + ".multiplier", "must be a number");
    } else if (m->GetDouble() < 1.0 || m->GetDouble() > 10.0) {
      r.Error(bpath + ".multiplier", "must be between 1 and 10");
    } else {
      out->backoff.multiplier = m->GetDouble();
    }
  }
}

// A list of distinct namespace names (DNS-1123 labels), at most `max`.
void ReadNamespaceList(Reader& r, const Value& parent, const char* key, const std::string& path,
                       size_t max, std::vector<std::string>* out) {
  const Value* list = r.GetArray(parent, key, path + "." + key, max);
  if (list == nullptr) return;
  std::set<std::string> seen;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    std::string p = fmt::format("{}.{}[{}]", path, key, i);
    const Value& item = (*list)[i];
    if (!item.IsString()) {
      r.Error(p, "must be a string");
      continue;
    }
    std::string ns(item.GetString(), item.GetStringLength());
    if (!IsDnsLabel(ns)) {
      r.Error(p, std::string(kDnsLabelRule));
    } else if (!seen.insert(ns).second) {
      r.Error(p, fmt::format("duplicate namespace \"{}\"", ns));
    } else {
      out->push_back(std::move(ns));
    }
  }
}

void ReadCollection(Reader& r, const Value& spec, CollectionSpec* out) {
  const std::string path = "spec.collection";
  const Value* c = r.GetObject(spec, "collection", path, false);
  if (c == nullptr) return;
  out->events = r.GetBool(*c, "events", path + ".events", true);
  out->metrics = r.GetBool(*c, "metrics", path + ".metrics", true);
  if (auto d = r.GetDuration(*c, "metricsInterval", path + ".metricsInterval")) {
    if (d->count() < 1000) r.Error(path + ".metricsInterval", "must be at least 1s");
    out->metrics_interval = *d;
  }
  if (const Value* e = r.Get(*c, "eventsPerSecond", path + ".eventsPerSecond", false)) {
    if (!e->IsNumber()) {
      r.Error(path + ".eventsPerSecond", "must be a number");
    } else if (e->GetDouble() < 0.1 || e->GetDouble() > 100000) {
      r.Error(path + ".eventsPerSecond", "must be between 0.1 and 100000");
    } else {
      out->events_per_second = e->GetDouble();
    }
  }
  if (auto n = r.GetInt(*c, "eventBurst", path + ".eventBurst", 1, 100000)) out->event_burst = *n;
  ReadNamespaceList(r, *c, "excludedNamespaces", path, 256, &out->excluded_namespaces);
}

void ReadStream(Reader& r, const Value& spec, StreamSpec* out) {
  const std::string path = "spec.stream";
  const Value* s = r.GetObject(spec, "stream", path, false);
  if (s == nullptr) return;
  if (auto n = r.GetInt(*s, "maxUnackedBytes", path + ".maxUnackedBytes", 65536, 1073741824)) {
    out->max_unacked_bytes = *n;
  }
  if (auto n = r.GetInt(*s, "maxUnackedMessages", path + ".maxUnackedMessages", 1, 65536)) {
    out->max_unacked_messages = *n;
  }
  if (auto d = r.GetDuration(*s, "batchInterval", path + ".batchInterval")) {
    if (d->count() < 1 || d->count() > 60000) r.Error(path + ".batchInterval", "must be between 1ms and 1m");
    out->batch_interval = *d;
  }
}

// A list of 1..max_length-character strings, at most max_items; appended
// to `out`, and to `copy` (a JSON array) when given.
void ReadStringList(Reader& r, const Value& parent, const char* key, const std::string& path,
                    size_t max_items, size_t max_length, std::vector<std::string>* out,
                    const std::vector<std::string_view>& allowed = {}) {
  const Value* list = r.GetArray(parent, key, path, max_items);
  if (list == nullptr) return;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    std::string p = fmt::format("{}[{}]", path, i);
    const Value& item = (*list)[i];
    if (!item.IsString()) {
      r.Error(p, "must be a string");
      continue;
    }
    std::string_view v(item.GetString(), item.GetStringLength());
    if (v.empty() || v.size() > max_length) {
      r.Error(p, fmt::format("must be 1..{} characters", max_length));
    } else if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      std::string list_text;
      for (auto a : allowed) list_text += fmt::format("{}\"{}\"", list_text.empty() ? "" : ", ", a);
      r.Error(p, fmt::format("must be one of {}", list_text));
    } else {
      out->emplace_back(v);
    }
  }
}

rapidjson::Value JsonStrings(const std::vector<std::string>& items, Allocator& a) {
  Value out(rapidjson::kArrayType);
  for (const auto& s : items) out.PushBack(json::String(s, a), a);
  return out;
}

// Custom check names end up in annotation keys (polaris.fairwinds.com/
// <name>-exempt) and metric labels: keep them to a plain identifier.
bool IsCustomCheckName(std::string_view n) {
  if (n.empty() || n.size() > 63 || !std::isalpha(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// Largest custom check schema (serialized, or schemaString): the whole
// configuration travels in the agent's ConfigMap (1 MiB).
constexpr size_t kMaxCustomSchemaBytes = 65536;

// One entry of spec.scans.customChecks: checked field by field as the CRD
// does, then compiled by the scan engine (scan::ParseConfig), whose verdict
// is reported at the entry's path. Returns the definition with only the
// fields the CRD declares (the apiserver prunes the others), or nothing.
std::optional<std::string> ReadCustomCheck(Reader& r, const std::string& name, const Value& def,
                                           const std::string& path) {
  const size_t errors_before = r.ErrorCount();
  if (!IsCustomCheckName(name)) {
    r.Error(path,
            "the name must be 1..63 letters, digits, '-', '_' or '.', starting with a letter");
  } else if (scan::FindCheck(name) != nullptr) {
    r.Error(path, "the name is the id or Polaris name of a built-in check");
  }
  if (!def.IsObject()) {
    r.Error(path, "must be an object");
    return std::nullopt;
  }
  json::Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  auto copy_string = [&](const char* key, size_t max_length, bool required,
                         const std::vector<std::string_view>& allowed) {
    auto v = r.GetString(def, key, path + "." + key, required);
    if (!v) return;
    if (v->empty() || v->size() > max_length) {
      r.Error(path + "." + key, fmt::format("must be 1..{} characters", max_length));
    } else if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), *v) == allowed.end()) {
      std::string list;
      for (auto x : allowed) list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", x);
      r.Error(path + "." + key, fmt::format("must be one of {}", list));
    } else {
      json::SetString(out, key, *v, a);
    }
  };
  copy_string("successMessage", 1024, false, {});
  copy_string("failureMessage", 1024, false, {});
  copy_string("category", 32, false, {"Security", "Reliability", "Efficiency", "Network", "RBAC"});
  copy_string("schemaTarget", 32, false, {"PodSpec"});
  if (auto target = r.GetString(def, "target", path + ".target", true)) {
    if (target->empty() || target->size() > 253 || HasWhitespace(*target)) {
      r.Error(path + ".target",
              "must be Container, PodSpec, PodTemplate, Controller or a kind: 1..253 characters "
              "without spaces");
    } else {
      json::SetString(out, "target", *target, a);
    }
  }
  const std::vector<std::string_view> container_kinds = {"initContainer", "container"};
  for (const char* group : {"controllers", "containers"}) {
    const Value* g = r.GetObject(def, group, path + "." + group, false);
    if (g == nullptr) continue;
    const bool containers = std::string_view(group) == "containers";
    Value copy(rapidjson::kObjectType);
    for (const char* key : {"include", "exclude"}) {
      std::vector<std::string> items;
      ReadStringList(r, *g, key, fmt::format("{}.{}.{}", path, group, key), containers ? 2 : 32, 63,
                     &items, containers ? container_kinds : std::vector<std::string_view>{});
      if (Member(*g, key) != nullptr) json::Set(copy, key, JsonStrings(items, a), a);
    }
    json::Set(out, group, std::move(copy), a);
  }
  const Value* schema = Member(def, "schema");
  const Value* schema_string = Member(def, "schemaString");
  if ((schema == nullptr) == (schema_string == nullptr)) {
    r.Error(path, "exactly one of schema or schemaString must be set");
  }
  if (schema != nullptr) {
    if (!schema->IsObject()) {
      r.Error(path + ".schema", "must be an object (a JSON Schema)");
    } else if (json::Dump(*schema).size() > kMaxCustomSchemaBytes) {
      r.Error(path + ".schema",
              fmt::format("must be at most {} bytes as JSON", kMaxCustomSchemaBytes));
    } else {
      json::Set(out, "schema", Value(*schema, a), a);
    }
  }
  if (schema_string != nullptr) {
    copy_string("schemaString", kMaxCustomSchemaBytes, false, {});
  }
  if (r.ErrorCount() != errors_before) return std::nullopt;

  // The engine's own verdict: schema translation (draft 2019-09 → draft-04),
  // schemaString parsing, target and category rules.
  std::string text = json::Dump(out);
  json::Document wrapper(rapidjson::kObjectType);
  Value checks(rapidjson::kObjectType);
  json::Set(checks, name, Value(out, wrapper.GetAllocator()), wrapper.GetAllocator());
  json::Set(wrapper, "customChecks", std::move(checks), wrapper.GetAllocator());
  scan::ScanConfig compiled;
  std::string error = scan::ParseConfig(json::Dump(wrapper), &compiled);
  if (!error.empty()) {
    const std::string prefix = fmt::format("custom check {}: ", name);
    if (error.starts_with(prefix)) error.erase(0, prefix.size());
    r.Error(path, error);
    return std::nullopt;
  }
  return text;
}

// The Polaris members of spec.scans (docs/scan.md, "Configuration").
void ReadScanConfig(Reader& r, const Value& s, const std::string& path, ScansSpec* out) {
  const size_t errors_before = r.ErrorCount();
  std::set<std::string> custom_names;
  if (const Value* custom = r.GetObject(s, "customChecks", path + ".customChecks", false)) {
    if (custom->MemberCount() > 64) {
      r.Error(path + ".customChecks", "must have at most 64 entries");
    } else {
      for (const auto& m : custom->GetObject()) {
        std::string name(m.name.GetString(), m.name.GetStringLength());
        custom_names.insert(name);
        if (auto def =
                ReadCustomCheck(r, name, m.value, fmt::format("{}.customChecks[{}]", path, name))) {
          out->custom_checks.emplace(name, std::move(*def));
        }
      }
    }
  }
  if (const Value* checks = r.GetObject(s, "checks", path + ".checks", false)) {
    if (checks->MemberCount() > 512) {
      r.Error(path + ".checks", "must have at most 512 entries");
    } else {
      std::map<std::string, std::string> severities;
      for (const auto& m : checks->GetObject()) {
        std::string name(m.name.GetString(), m.name.GetStringLength());
        std::string p = fmt::format("{}.checks[{}]", path, name);
        // Exactly the CRD's enum (the engine also takes "Danger" or Polaris'
        // old "error"; the apiserver does not).
        if (!m.value.IsString()) {
          r.Error(p, "must be a string");
        } else if (std::string_view v(m.value.GetString(), m.value.GetStringLength());
                   v != "danger" && v != "warning" && v != "ignore") {
          r.Error(p, R"(must be one of "danger", "warning", "ignore")");
        } else if (scan::FindCheck(name) == nullptr && custom_names.count(name) == 0) {
          r.Error(p, "no such check: not a check id, a Polaris check name or a custom check");
        } else {
          severities.emplace(std::move(name), std::string(v));
        }
      }
      out->checks = std::move(severities);
    }
  }
  if (const Value* list = r.GetArray(s, "exemptions", path + ".exemptions", 256)) {
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const std::string p = fmt::format("{}.exemptions[{}]", path, i);
      const Value& item = (*list)[i];
      if (!item.IsObject()) {
        r.Error(p, "must be an object");
        continue;
      }
      ScanExemption e;
      e.ns = r.GetChecked(item, "namespace", p + ".namespace", false, IsDnsLabel, kDnsLabelRule);
      ReadStringList(r, item, "controllerNames", p + ".controllerNames", 256, 253,
                     &e.controller_names);
      ReadStringList(r, item, "containerNames", p + ".containerNames", 256, 253,
                     &e.container_names);
      ReadStringList(r, item, "rules", p + ".rules", 256, 253, &e.rules);
      // An exemption without any field would silently exempt everything.
      if (Member(item, "namespace") == nullptr && Member(item, "controllerNames") == nullptr &&
          Member(item, "containerNames") == nullptr && Member(item, "rules") == nullptr) {
        r.Error(p, "must set namespace, controllerNames, containerNames or rules");
        continue;
      }
      out->exemptions.push_back(std::move(e));
    }
  }
  out->disallow_exemptions =
      r.GetBool(s, "disallowExemptions", path + ".disallowExemptions", false);
  out->disallow_config_exemptions =
      r.GetBool(s, "disallowConfigExemptions", path + ".disallowConfigExemptions", false);
  out->disallow_annotation_exemptions =
      r.GetBool(s, "disallowAnnotationExemptions", path + ".disallowAnnotationExemptions", false);

  // What the agent will do with it: the whole configuration through the
  // engine's parser. The checks above catch every problem it knows of with
  // a precise path; this keeps the two from ever disagreeing.
  if (r.ErrorCount() == errors_before && out->HasPolarisConfig()) {
    scan::ScanConfig compiled;
    std::string error = scan::ParseConfig(PolarisConfigJson(*out), &compiled);
    if (!error.empty()) r.Error(path, "rejected by the scan engine: " + error);
  }
}

void ReadScans(Reader& r, const Value& spec, ScansSpec* out) {
  const std::string path = "spec.scans";
  const Value* s = r.GetObject(spec, "scans", path, false);
  if (s == nullptr) return;
  out->enabled = r.GetBool(*s, "enabled", path + ".enabled", true);
  if (auto d = r.GetDuration(*s, "interval", path + ".interval")) {
    if (*d < Duration(60000)) r.Error(path + ".interval", "must be at least 1m");
    out->interval = *d;
  }
  ReadScanConfig(r, *s, path, out);
}

void ReadActions(Reader& r, const Value& spec, ActionsSpec* out) {
  const std::string path = "spec.actions";
  const Value* a = r.GetObject(spec, "actions", path, false);
  if (a == nullptr) return;
  out->scale = r.GetBool(*a, "scale", path + ".scale", false);
  out->restart = r.GetBool(*a, "restart", path + ".restart", false);
  out->delete_pods = r.GetBool(*a, "deletePods", path + ".deletePods", false);
  out->nodes = r.GetBool(*a, "nodes", path + ".nodes", false);
  out->apply_manifests = r.GetBool(*a, "applyManifests", path + ".applyManifests", false);
  out->helm = r.GetBool(*a, "helm", path + ".helm", false);
  ReadNamespaceList(r, *a, "namespaces", path, kMaxActionNamespaces, &out->namespaces);
}

// Rules that need both the actions and the AgentConfig's own namespace.
void CheckActionNamespaces(Reader& r, const ActionsSpec& actions, const std::string& own) {
  for (size_t i = 0; i < actions.namespaces.size(); ++i) {
    const std::string& ns = actions.namespaces[i];
    if (ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease" || ns == own) {
      r.Error(fmt::format("spec.actions.namespaces[{}]", i),
              fmt::format("\"{}\" is never modified by actions (kube-system, kube-public, "
                          "kube-node-lease and the AgentConfig's own namespace)",
                          ns));
    }
  }
  if (actions.helm && actions.namespaces.empty()) {
    r.Error("spec.actions.helm",
            "requires spec.actions.namespaces: Helm stores releases in Secrets, and reading "
            "Secrets is granted only in the namespaces listed there, never cluster-wide");
  }
}

void ReadMeta(Reader& r, const Value& object, ObjectMeta* out) {
  const Value* meta = r.GetObject(object, "metadata", "metadata", true);
  if (meta == nullptr) return;
  if (auto name = r.GetString(*meta, "name", "metadata.name", true)) {
    if (!IsDnsSubdomain(*name) || name->size() > 63) {
      r.Error("metadata.name",
              "must be a DNS subdomain of at most 63 characters (it is used as a label value)");
    }
    out->name = *name;
  }
  if (auto ns = r.GetString(*meta, "namespace", "metadata.namespace", true)) out->namespace_ = *ns;
  if (auto uid = r.GetString(*meta, "uid", "metadata.uid", true)) out->uid = *uid;
  if (const Value* g = Member(*meta, "generation"); g != nullptr && g->IsInt64()) {
    out->generation = g->GetInt64();
  }
  out->deleting = Member(*meta, "deletionTimestamp") != nullptr;
}

}  // namespace

std::string PolarisConfigJson(const ScansSpec& scans) {
  if (!scans.HasPolarisConfig()) return "";
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  if (scans.checks) {
    Value checks(rapidjson::kObjectType);
    for (const auto& [name, severity] : *scans.checks) json::SetString(checks, name, severity, a);
    json::Set(doc, "checks", std::move(checks), a);
  }
  if (!scans.exemptions.empty()) {
    Value list(rapidjson::kArrayType);
    for (const auto& e : scans.exemptions) {
      Value item(rapidjson::kObjectType);
      if (!e.ns.empty()) json::SetString(item, "namespace", e.ns, a);
      if (!e.controller_names.empty())
        json::Set(item, "controllerNames", JsonStrings(e.controller_names, a), a);
      if (!e.container_names.empty())
        json::Set(item, "containerNames", JsonStrings(e.container_names, a), a);
      if (!e.rules.empty()) json::Set(item, "rules", JsonStrings(e.rules, a), a);
      list.PushBack(item, a);
    }
    json::Set(doc, "exemptions", std::move(list), a);
  }
  if (scans.disallow_exemptions) json::Set(doc, "disallowExemptions", Value(true), a);
  if (scans.disallow_config_exemptions) json::Set(doc, "disallowConfigExemptions", Value(true), a);
  if (scans.disallow_annotation_exemptions)
    json::Set(doc, "disallowAnnotationExemptions", Value(true), a);
  if (!scans.custom_checks.empty()) {
    Value custom(rapidjson::kObjectType);
    for (const auto& [name, definition] : scans.custom_checks) {
      auto parsed = json::Parse(definition);
      json::Set(custom, name, parsed ? Value(*parsed, a) : Value(rapidjson::kObjectType), a);
    }
    json::Set(doc, "customChecks", std::move(custom), a);
  }
  return json::Dump(doc);
}

std::string FieldError::ToString() const { return path + ": " + message; }

std::string ParseResult::Summary() const {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.ToString();
  }
  return out;
}

void ApplyDefaults(Value& spec, Allocator& alloc) {
  if (!spec.IsObject()) return;
  if (Value* backend = Object(spec, "backend")) Default(*backend, "insecure", "false", alloc);
  if (Value* token = Object(spec, "token")) {
    if (Value* ref = Object(*token, "secretRef")) Default(*ref, "key", R"("token")", alloc);
  }

  Default(spec, "agent", "{}", alloc);
  if (Value* agent = Object(spec, "agent")) {
    Default(*agent, "imagePullPolicy", R"("IfNotPresent")", alloc);
    Default(*agent, "resources",
            R"({"requests":{"cpu":"50m","memory":"64Mi"},"limits":{"memory":"256Mi"}})", alloc);
    Default(*agent, "nodeSelector", R"({"kubernetes.io/os":"linux"})", alloc);
    Default(*agent, "tolerations", R"([{"operator":"Exists"}])", alloc);
    Default(*agent, "logLevel", R"("info")", alloc);
    if (Value* tolerations = json::FindMutable(*agent, {"tolerations"});
        tolerations != nullptr && tolerations->IsArray()) {
      for (auto& t : tolerations->GetArray()) {
        if (t.IsObject()) Default(t, "operator", R"("Equal")", alloc);
      }
    }
  }

  Default(spec, "leaderElection", "{}", alloc);
  if (Value* le = Object(spec, "leaderElection")) {
    Default(*le, "leaseDuration", R"("15s")", alloc);
    Default(*le, "renewDeadline", R"("10s")", alloc);
    Default(*le, "retryPeriod", R"("2s")", alloc);
  }

  Default(spec, "tunnel", "{}", alloc);
  if (Value* tunnel = Object(spec, "tunnel")) {
    Default(*tunnel, "pingInterval", R"("20s")", alloc);
    Default(*tunnel, "pongTimeout", R"("10s")", alloc);
    Default(*tunnel, "backoff", "{}", alloc);
    if (Value* backoff = Object(*tunnel, "backoff")) {
      Default(*backoff, "initial", R"("1s")", alloc);
      Default(*backoff, "max", R"("60s")", alloc);
      Default(*backoff, "multiplier", "2.0", alloc);
    }
    Default(*tunnel, "maxMessageBytes", "16777216", alloc);
  }

  Default(spec, "collection", "{}", alloc);
  if (Value* collection = Object(spec, "collection")) {
    Default(*collection, "events", "true", alloc);
    Default(*collection, "metrics", "true", alloc);
    Default(*collection, "metricsInterval", R"("60s")", alloc);
    Default(*collection, "eventsPerSecond", "50", alloc);
    Default(*collection, "eventBurst", "200", alloc);
  }

  Default(spec, "stream", "{}", alloc);
  if (Value* stream = Object(spec, "stream")) {
    Default(*stream, "maxUnackedBytes", "4194304", alloc);
    Default(*stream, "maxUnackedMessages", "256", alloc);
    Default(*stream, "batchInterval", R"("50ms")", alloc);
  }

  Default(spec, "scans", "{}", alloc);
  if (Value* scans = Object(spec, "scans")) {
    Default(*scans, "enabled", "true", alloc);
    Default(*scans, "interval", R"("1h")", alloc);
  }

  Default(spec, "actions", "{}", alloc);
  if (Value* actions = Object(spec, "actions")) {
    for (auto key : {"scale", "restart", "deletePods", "nodes", "applyManifests", "helm"}) {
      Default(*actions, key, "false", alloc);
    }
  }
}

ParseResult Parse(const Value& object) {
  ParseResult result;
  Reader r(&result.errors);
  if (!object.IsObject()) {
    r.Error("", "an AgentConfig must be a JSON object");
    return result;
  }
  auto api_version = r.GetString(object, "apiVersion", "apiVersion", true);
  if (api_version && *api_version != kApiVersion) {
    r.Error("apiVersion", fmt::format("must be {}", kApiVersion));
  }
  auto kind = r.GetString(object, "kind", "kind", true);
  if (kind && *kind != kKind) r.Error("kind", fmt::format("must be {}", kKind));
  ReadMeta(r, object, &result.config.meta);

  const Value* raw_spec = r.GetObject(object, "spec", "spec", true);
  if (raw_spec == nullptr) return result;
  rapidjson::Document spec;
  spec.CopyFrom(*raw_spec, spec.GetAllocator());
  ApplyDefaults(spec, spec.GetAllocator());

  AgentConfigSpec& out = result.config.spec;
  ReadBackend(r, spec, &out.backend);
  ReadToken(r, spec, &out.token);
  out.cluster_name =
      r.GetChecked(spec, "clusterName", "spec.clusterName", true, IsDnsLabel, kDnsLabelRule);
  ReadAgent(r, spec, &out.agent);
  ReadLeaderElection(r, spec, &out.leader_election);
  ReadTunnel(r, spec, &out.tunnel);
  ReadCollection(r, spec, &out.collection);
  ReadStream(r, spec, &out.stream);
  ReadScans(r, spec, &out.scans);
  ReadActions(r, spec, &out.actions);
  CheckActionNamespaces(r, out.actions, result.config.meta.namespace_);
  return result;
}

std::vector<FieldError> ValidateToken(std::string_view token, std::string_view path) {
  std::vector<FieldError> errors;
  if (token.empty()) {
    errors.push_back({std::string(path), "must not be empty"});
  } else if (token.size() > 4096) {
    errors.push_back({std::string(path), "must be at most 4096 characters"});
  } else if (!std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c <= '~'; })) {
    // A bearer token travels in an HTTP header: no spaces, no control or
    // non-ASCII bytes. A trailing newline (echo > file) is the usual culprit.
    errors.push_back({std::string(path),
                      "must contain only printable ASCII characters without spaces or newlines"});
  }
  return errors;
}

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // Largest accepted duration: 10000 hours; keeps every sum far from overflow.
  constexpr int64_t kMaxMs = int64_t{10000} * 3600 * 1000;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxMs) return std::nullopt;
      ++i;
    }
    if (i == start || i == text.size()) return std::nullopt;
    int64_t unit_ms;
    if (text.substr(i, 2) == "ms") {
      unit_ms = 1;
      i += 2;
    } else if (text[i] == 's') {
      unit_ms = 1000;
      ++i;
    } else if (text[i] == 'm') {
      unit_ms = 60 * 1000;
      ++i;
    } else if (text[i] == 'h') {
      unit_ms = 3600 * 1000;
      ++i;
    } else {
      return std::nullopt;
    }
    if (n > kMaxMs / unit_ms) return std::nullopt;
    total += n * unit_ms;
    if (total > kMaxMs) return std::nullopt;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
  if (h) out += fmt::format("{}h", h);
  if (m) out += fmt::format("{}m", m);
  if (s) out += fmt::format("{}s", s);
  if (rest) out += fmt::format("{}ms", rest);
  return out;
}

}  // namespace srexpert::api
