#include "hub/rest_api.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <variant>

#include "common/json.h"
#include "common/log.h"
#include "common/time_format.h"
#include "hub/api_users.h"
#include "hub/audit_writer.h"
#include "hub/scan_diff.h"
#include "hub/state_store.h"
#include "net/http_server.h"
#include "net/secure_random.h"
#include "scan/catalogue.h"

namespace srexpert::hub {

namespace {

net::HttpResponse JsonError(int status, std::string_view message) {
  return net::HttpResponse::Json(status,
                                 fmt::format(R"({{"error":"{}"}})", net::JsonEscape(message)));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding (and '+' as space in queries); false on a malformed
// escape or a decoded NUL.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      int hi = i + 1 < in.size() ? HexDigit(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? HexDigit(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return false;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out->push_back(c);
  }
  return true;
}

// The query string as decoded name → value; only `allowed` names, each at
// most once. "" and the error otherwise.
std::string ParseQuery(std::string_view query, std::initializer_list<std::string_view> allowed,
                       std::map<std::string, std::string>* out) {
  out->clear();
  size_t i = 0;
  while (i < query.size()) {
    size_t end = query.find('&', i);
    if (end == std::string_view::npos) end = query.size();
    std::string_view item = query.substr(i, end - i);
    i = end + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string name, value;
    if (!PercentDecode(item.substr(0, eq), true, &name) ||
        (eq != std::string_view::npos && !PercentDecode(item.substr(eq + 1), true, &value))) {
      return "malformed percent-encoding in the query";
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string names;
      for (auto a : allowed) names += fmt::format("{}{}", names.empty() ? "" : ", ", a);
      return fmt::format("unknown query parameter \"{}\" (allowed: {})", name.substr(0, 64),
                         names.empty() ? "none" : names);
    }
    if (!out->emplace(name, std::move(value)).second) {
      return fmt::format("query parameter \"{}\" given twice", name);
    }
  }
  return {};
}


// GET /api/v1/me: who the token belongs to, so a client (the console) can
// show or hide what the role allows; the API checks every call anyway.
std::string MeJson(const ApiUser& user, bool authenticated) {
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  json::SetString(doc, "name", user.name, a);
  json::SetString(doc, "role", RoleName(user.role), a);
  json::Set(doc, "authenticated", json::Value(authenticated), a);
  // null: every cluster.
  json::Value clusters(rapidjson::kNullType);
  if (!user.clusters.empty()) {
    clusters.SetArray();
    for (const std::string& c : user.clusters) {
      clusters.PushBack(json::Value(c.c_str(), static_cast<rapidjson::SizeType>(c.size()), a), a);
    }
  }
  json::Set(doc, "clusters", std::move(clusters), a);
  return json::Dump(doc);
}

// GET /api/v1/checks: the scan engine's catalogue as this hub was built with
// it, so a client can show a finding's title, why and remediation (reports
// carry only the check id and message).
const std::string& ChecksJson() {
  static const std::string body = [] {
    json::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    json::Value checks(rapidjson::kArrayType);
    for (const scan::CheckInfo& c : scan::Catalogue()) {
      json::Value v(rapidjson::kObjectType);
      json::SetString(v, "id", c.id, a);
      json::SetString(v, "title", c.title, a);
      json::SetString(v, "category", scan::CategoryName(c.category), a);
      json::SetString(v, "severity", scan::SeverityName(c.severity), a);
      json::SetString(v, "appliesTo", c.applies_to, a);
      json::SetString(v, "why", c.why, a);
      json::SetString(v, "remediation", c.remediation, a);
      json::Value aliases(rapidjson::kObjectType);
      auto alias = [&](const char* key, std::string_view value) {
        if (!value.empty()) json::SetString(aliases, key, value, a);
      };
      alias("polaris", c.aliases.polaris);
      alias("pss", c.aliases.pss);
      alias("pssLevel", c.aliases.pss_level);
      alias("cis", c.aliases.cis);
      alias("nsa", c.aliases.nsa);
      json::Set(v, "aliases", std::move(aliases), a);
      checks.PushBack(std::move(v), a);
    }
    json::Set(doc, "checks", std::move(checks), a);
    return json::Dump(doc);
  }();
  return body;
}

constexpr std::string_view kClustersPrefix = "/api/v1/clusters/";

// A cluster name as one path segment of a URL the API hands out.
std::string PercentEncodeSegment(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

struct RestApi::Impl : std::enable_shared_from_this<Impl> {
  ApiUserStore* users = nullptr;  // null: no authentication
  StateStore* store = nullptr;
  RestApiBackend backend;
  // Stores audit records off the calling thread; closed by ~RestApi.
  std::unique_ptr<AuditWriter> audit_writer;

  // Requests sent with "async": true, readable at .../requests/<id> while
  // they run and for kAsyncKeep after. Bounded: kMaxAsync records, each
  // keeping its newest progress reports up to kMaxProgressBytes, and the
  // results kept all together at most kMaxResultBytes (a result may be as
  // large as a message: the oldest finished records go first).
  static constexpr size_t kMaxAsync = 256;
  static constexpr size_t kMaxProgressBytes = 256 * 1024;
  static constexpr size_t kMaxResultBytes = 64 * 1024 * 1024;
  static constexpr std::chrono::minutes kAsyncKeep{15};
  struct AsyncRecord {
    std::string cluster, kind, requested_by, created;
    bool done = false;
    std::chrono::steady_clock::time_point finished;
    std::deque<std::string> progress;  // newest last
    size_t progress_bytes = 0;
    uint64_t progress_total = 0;
    net::HttpResponse result;  // the synchronous answer, once done
  };
  std::mutex async_mu;
  std::map<std::string, AsyncRecord> async;  // id -> record
  size_t result_bytes = 0;                   // of every record's result

  // ---- REST API authorization (api_users.h) -----------------------------------

  // The caller of an API request for `cluster` (empty: none in particular),
  // or the 401/403 to answer. Without a users file everyone is an operator:
  // Start() allows that on a loopback address only. `operator_action` names
  // what needs role operator, for a viewer's 403.
  std::variant<ApiUser, net::HttpResponse> Authorize(
      const net::HttpRequest& req, ApiRole need, std::string_view cluster,
      std::string_view operator_action = "sending requests to agents") {
    if (!users) return ApiUser{"anonymous", ApiRole::kOperator, {}};
    const std::string authorization = req.Header("authorization");  // the token views into it
    std::string_view token = BearerToken(authorization);
    std::optional<ApiUser> user = token.empty() ? std::nullopt : users->Authenticate(token);
    if (!user) {
      log::Warn("api request refused: no valid bearer token",
                {{"method", req.method}, {"path", req.path}, {"remote", req.remote},
                 {"tokenPresent", !token.empty()}});
      auto r = JsonError(401, token.empty() ? "an Authorization: Bearer token is required"
                                            : "the bearer token is not valid");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"srexpert-hub\"");
      return r;
    }
    if (need == ApiRole::kOperator && user->role != ApiRole::kOperator) {
      return JsonError(403, fmt::format("user \"{}\" has role viewer; {} needs role operator",
                                        user->name, operator_action));
    }
    if (!cluster.empty() && !user->MaySee(cluster)) {
      return JsonError(403, fmt::format("user \"{}\" may not use cluster \"{}\"", user->name,
                                        cluster.substr(0, 253)));
    }
    return *user;
  }

  // The cluster segment of /api/v1/clusters/<name>/..., decoded, or the
  // answer to a path without one (404) or with bad percent-encoding (400).
  static std::variant<std::string, net::HttpResponse> ClusterOfPath(std::string_view path) {
    std::string_view rest = path.substr(kClustersPrefix.size());
    std::string_view segment = rest.substr(0, rest.find('/'));
    if (segment.empty() || segment.size() == rest.size()) return JsonError(404, "not found");
    std::string cluster;
    if (!PercentDecode(segment, false, &cluster) || cluster.empty()) {
      return JsonError(400, "malformed percent-encoding in the cluster name");
    }
    return cluster;
  }

  // One audit record (state store and log) for a request sent through the
  // API: who, where, what, on which object, and how it ended. The record is
  // stored by the audit writer; `when_full` says whether this thread may
  // wait for room in its queue (an API thread) or must not (the tunnel
  // thread, where the record is then dropped and the drop logged).
  void Audit(const ApiUser& who, const std::string& cluster, const std::string& kind,
             const json::Value* payload, const std::string& outcome, const std::string& message,
             AuditWriter::WhenFull when_full) {
    json::Document record(rapidjson::kObjectType);
    auto& a = record.GetAllocator();
    json::SetString(record, "time", FormatRfc3339(std::chrono::system_clock::now()), a);
    json::SetString(record, "user", who.name, a);
    json::SetString(record, "role", RoleName(who.role), a);
    json::SetString(record, "authenticated", users ? "bearer" : "none (no users file)", a);
    json::SetString(record, "cluster", cluster, a);
    json::SetString(record, "kind", kind, a);
    // The target as the payload names it; never the payload itself (it may
    // hold chart values or manifests with credentials).
    json::Value target(rapidjson::kObjectType);
    if (payload && payload->IsObject()) {
      for (const char* key : {"kind", "namespace", "name", "release", "node"}) {
        const json::Value* v = json::Find(*payload, {key});
        if (v && v->IsString() && v->GetStringLength() <= 253) {
          json::SetString(target, key, std::string_view(v->GetString(), v->GetStringLength()), a);
        }
      }
    }
    json::Set(record, "target", std::move(target), a);
    json::SetString(record, "outcome", outcome, a);
    json::SetString(record, "message", message.substr(0, 1024), a);
    audit_writer->Append(cluster, json::Dump(record), when_full);
    log::Info("api request", {{"user", who.name}, {"cluster", cluster}, {"kind", kind},
                              {"outcome", outcome}});
  }

  // The audit outcome of an answer: "ok", the agent's error code, or the
  // hub's reason for not delivering it.
  static std::pair<std::string, std::string> OutcomeOf(const RequestResult& r) {
    using S = RequestResult::Status;
    switch (r.status) {
      case S::kOk:
        if (r.response.ok) return {"ok", ""};
        return {r.response.error.code, r.response.error.message};
      case S::kNotConnected: return {"not_connected", r.error};
      case S::kBusy: return {"busy", r.error};
      case S::kTimeout: return {"timeout", r.error};
      case S::kDisconnected: return {"disconnected", r.error};
      case S::kInvalid: return {"invalid", r.error};
      case S::kStopped: return {"stopped", r.error};
    }
    return {"internal", r.error};
  }

  // ---- REST API ---------------------------------------------------------------

  // Every API answer: never sniffed into another type, never cached (it
  // holds cluster state; a shared machine's browser cache is not the place).
  static net::HttpResponse ApiHeaders(net::HttpResponse r) {
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }

  void Install(net::HttpServer& server) {
    std::weak_ptr<Impl> weak = shared_from_this();
    auto get = [&server](std::string path, net::Handler handler) {
      server.Handle("GET", std::move(path), [handler](const net::HttpRequest& req) {
        return ApiHeaders(handler(req));
      });
    };
    auto post = [&server](std::string path, net::AsyncHandler handler) {
      server.HandleAsync("POST", std::move(path),
                         [handler](const net::HttpRequest& req, net::Respond respond) {
                           handler(req, [respond](net::HttpResponse r) {
                             respond(ApiHeaders(std::move(r)));
                           });
                         });
    };
    get("/healthz", [](const net::HttpRequest&) { return net::HttpResponse::Text(200, "ok\n"); });
    get("/api/v1/me", [weak](const net::HttpRequest& req) {
      auto self = weak.lock();
      if (!self) return net::HttpResponse::Text(503, "stopping\n");
      auto caller = self->Authorize(req, ApiRole::kViewer, "");
      if (auto* refused = std::get_if<net::HttpResponse>(&caller)) return std::move(*refused);
      return net::HttpResponse::Json(200, MeJson(std::get<ApiUser>(caller), self->users != nullptr));
    });
    get("/api/v1/checks", [weak](const net::HttpRequest& req) {
      auto self = weak.lock();
      if (!self) return net::HttpResponse::Text(503, "stopping\n");
      auto caller = self->Authorize(req, ApiRole::kViewer, "");
      if (auto* refused = std::get_if<net::HttpResponse>(&caller)) return std::move(*refused);
      return net::HttpResponse::Json(200, ChecksJson());
    });
    get("/api/v1/clusters", [weak](const net::HttpRequest& req) {
      auto self = weak.lock();
      if (!self) return net::HttpResponse::Text(503, "stopping\n");
      auto caller = self->Authorize(req, ApiRole::kViewer, "");
      if (auto* refused = std::get_if<net::HttpResponse>(&caller)) return std::move(*refused);
      const ApiUser& user = std::get<ApiUser>(caller);
      std::vector<ClusterStatus> list = self->backend.clusters();
      std::erase_if(list, [&](const ClusterStatus& c) { return !user.MaySee(c.name); });
      return net::HttpResponse::Json(200, ClustersJson(list));
    });
    get("/api/v1/clusters/*", [weak](const net::HttpRequest& req) {
      auto self = weak.lock();
      if (!self) return net::HttpResponse::Text(503, "stopping\n");
      auto cluster = ClusterOfPath(req.path);
      if (auto* bad = std::get_if<net::HttpResponse>(&cluster)) return std::move(*bad);
      // An asynchronous request's record holds its result (a diff, a
      // manifest): for operators, who may send requests, only.
      std::string_view after = std::string_view(req.path).substr(kClustersPrefix.size());
      after.remove_prefix(std::min(after.size(), after.find('/')));  // "/<what>"
      const bool request_record = after.starts_with("/requests/");
      auto caller = request_record
                        ? self->Authorize(req, ApiRole::kOperator, std::get<std::string>(cluster),
                                          "reading an asynchronous request's record (it holds the "
                                          "request's result)")
                        : self->Authorize(req, ApiRole::kViewer, std::get<std::string>(cluster));
      if (auto* refused = std::get_if<net::HttpResponse>(&caller)) return std::move(*refused);
      if (request_record) {
        return self->ServeAsync(after.substr(std::string_view("/requests/").size()),
                                std::get<std::string>(cluster));
      }
      return self->ServeClusterState(req);
    });
    post("/api/v1/clusters/*", [weak](const net::HttpRequest& req, net::Respond respond) {
      auto self = weak.lock();
      if (!self) return respond(net::HttpResponse::Text(503, "stopping\n"));
        std::string rest = req.path.substr(kClustersPrefix.size());
      size_t slash = rest.find('/');
      if (slash == std::string::npos || rest.substr(slash) != "/requests" || slash == 0) {
        return respond(net::HttpResponse::Text(404, "not found\n"));
      }
      auto parsed_cluster = ClusterOfPath(req.path);
      if (auto* bad = std::get_if<net::HttpResponse>(&parsed_cluster)) {
        return respond(std::move(*bad));
      }
      auto cluster = std::make_optional(std::get<std::string>(parsed_cluster));
      std::string parse_error;
      auto doc = json::Parse(req.body, &parse_error);
      auto caller = self->Authorize(req, ApiRole::kOperator, *cluster);
      if (auto* refused = std::get_if<net::HttpResponse>(&caller)) {
        // A known user refused by role or cluster is audited; an unknown
        // caller (401) only logged: there is no one to name.
        if (refused->status == 403 && self->users) {
          const std::string authorization = req.Header("authorization");
          auto user = self->users->Authenticate(BearerToken(authorization));
          if (user) {
            std::string kind = doc && doc->IsObject() ? json::GetString(*doc, {"kind"}) : "";
            self->Audit(*user, *cluster, kind.substr(0, 128),
                        doc && doc->IsObject() ? json::Find(*doc, {"payload"}) : nullptr,
                        "forbidden", "refused by the hub: " + refused->body.substr(0, 512),
                        AuditWriter::WhenFull::kWait);
          }
        }
        return respond(std::move(*refused));
      }
      ApiUser user = std::get<ApiUser>(caller);
      if (!doc || !doc->IsObject()) {
        return respond(net::HttpResponse::Json(
            400, fmt::format(R"({{"error":"{}"}})", net::JsonEscape(doc ? "body must be a JSON object" : parse_error))));
      }
      std::string kind = json::GetString(*doc, {"kind"});
      int64_t timeout_ms = json::GetInt(*doc, {"timeoutMs"}, 30000);
      json::Value* payload = json::FindMutable(*doc, {"payload"});
      const json::Value* async_flag = json::Find(*doc, {"async"});
      if (kind.empty() || timeout_ms <= 0 || timeout_ms > 86'400'000 ||
          (payload && !payload->IsObject()) || (async_flag && !async_flag->IsBool())) {
        return respond(net::HttpResponse::Json(
            400, R"j({"error":"need kind (string), optional payload (object), optional timeoutMs (1..86400000), optional async (boolean)"})j"));
      }
      const bool async = async_flag && async_flag->IsTrue();
      // With users, the authenticated name is who asked: a requestedBy sent
      // by the client is replaced, so the agent's audit Event cannot be
      // attributed to someone else.
      if (self->users) {
        if (!payload) {
          json::Set(*doc, "payload", json::Value(rapidjson::kObjectType), doc->GetAllocator());
          payload = json::FindMutable(*doc, {"payload"});
        }
        json::SetString(*payload, "requestedBy", user.name, doc->GetAllocator());
      }
      std::string payload_json = payload ? json::Dump(*payload) : "{}";
      auto audited = std::make_shared<json::Document>();
      if (payload) audited->CopyFrom(*payload, audited->GetAllocator());
      std::string async_id;
      if (async) {
        auto started = self->StartAsync(*cluster, kind, user.name);
        if (auto* refused = std::get_if<net::HttpResponse>(&started)) {
          return respond(std::move(*refused));
        }
        async_id = std::get<std::string>(started);
      }
      // Runs on the hub's tunnel thread, which must not block: the audit
      // record is queued, never waited for.
      auto finish = [weak, respond, user, cluster = *cluster, kind, audited,
                     async_id](RequestResult r) {
        auto self = weak.lock();
        if (self) {
          auto [outcome, message] = OutcomeOf(r);
          self->Audit(user, cluster, kind, audited->IsObject() ? audited.get() : nullptr, outcome,
                      message, AuditWriter::WhenFull::kDrop);
        }
        if (async_id.empty()) return respond(ResultToHttp(r));
        if (self) self->FinishAsync(async_id, ResultToHttp(r));
      };
      std::function<void(std::string)> progress;
      if (async) {
        progress = [weak, async_id](std::string report) {
          if (auto self = weak.lock()) self->AsyncProgress(async_id, std::move(report));
        };
      }
      self->backend.send_request(*cluster, kind, payload_json,
                                 std::chrono::milliseconds(timeout_ms), std::move(finish),
                                 std::move(progress));
      if (async) {
        respond(net::HttpResponse::Json(
            202, fmt::format(R"({{"id":"{}","state":"running","location":"/api/v1/clusters/{}/requests/{}"}})",
                             async_id, PercentEncodeSegment(*cluster), async_id)));
      }
    });
  }

  // ---- asynchronous requests ---------------------------------------------------

  // Drops records finished more than kAsyncKeep ago. async_mu held.
  void ExpireAsyncLocked() {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(async, [&](const auto& entry) {
      bool expired = entry.second.done && now - entry.second.finished > kAsyncKeep;
      if (expired) result_bytes -= entry.second.result.body.size();
      return expired;
    });
  }

  // The finished record that finished first (but `keep`), or end().
  std::map<std::string, AsyncRecord>::iterator OldestFinishedLocked(const std::string& keep = {}) {
    auto oldest = async.end();
    for (auto it = async.begin(); it != async.end(); ++it) {
      if (it->second.done && it->first != keep &&
          (oldest == async.end() || it->second.finished < oldest->second.finished)) {
        oldest = it;
      }
    }
    return oldest;
  }

  void EraseLocked(std::map<std::string, AsyncRecord>::iterator it) {
    result_bytes -= it->second.result.body.size();
    async.erase(it);
  }

  // A new record, or 429 when kMaxAsync are kept and none has finished.
  std::variant<std::string, net::HttpResponse> StartAsync(const std::string& cluster,
                                                          const std::string& kind,
                                                          const std::string& user) {
    std::lock_guard lock(async_mu);
    ExpireAsyncLocked();
    if (async.size() >= kMaxAsync) {
      // Make room by dropping the record that finished first.
      auto oldest = OldestFinishedLocked();
      if (oldest == async.end()) {
        return JsonError(429, fmt::format("{} asynchronous requests are running; wait for one",
                                          async.size()));
      }
      EraseLocked(oldest);
    }
    std::string id = net::RandomHex(16);
    AsyncRecord& r = async[id];
    r.cluster = cluster;
    r.kind = kind;
    r.requested_by = user;
    r.created = FormatRfc3339(std::chrono::system_clock::now());
    return id;
  }

  void AsyncProgress(const std::string& id, std::string report) {
    std::lock_guard lock(async_mu);
    auto it = async.find(id);
    if (it == async.end() || it->second.done) return;
    AsyncRecord& r = it->second;
    ++r.progress_total;
    if (report.size() > kMaxProgressBytes) {
      report = fmt::format(R"({{"omitted":"a progress report of {} bytes"}})", report.size());
    }
    r.progress_bytes += report.size();
    r.progress.push_back(std::move(report));
    while (r.progress_bytes > kMaxProgressBytes) {
      r.progress_bytes -= r.progress.front().size();
      r.progress.pop_front();
    }
  }

  void FinishAsync(const std::string& id, net::HttpResponse result) {
    std::lock_guard lock(async_mu);
    auto it = async.find(id);
    if (it == async.end()) return;
    it->second.done = true;
    it->second.finished = std::chrono::steady_clock::now();
    it->second.result = std::move(result);
    result_bytes += it->second.result.body.size();
    while (result_bytes > kMaxResultBytes) {
      auto oldest = OldestFinishedLocked(id);
      if (oldest == async.end()) break;  // this one alone: kept until it expires
      EraseLocked(oldest);
    }
  }

  // GET /api/v1/clusters/<name>/requests/<id>.
  net::HttpResponse ServeAsync(std::string_view id, const std::string& cluster) {
    std::lock_guard lock(async_mu);
    ExpireAsyncLocked();
    auto it = async.find(std::string(id));
    // Another cluster's id is as unknown as a made-up one.
    if (it == async.end() || it->second.cluster != cluster) {
      return JsonError(404, "no such request (finished ones are kept 15 minutes)");
    }
    const AsyncRecord& r = it->second;
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&](const char* key, std::string_view v) {
      w.Key(key);
      w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("id", it->first);
    str("cluster", r.cluster);
    str("kind", r.kind);
    str("requestedBy", r.requested_by);
    str("created", r.created);
    str("state", r.done ? "done" : "running");
    w.Key("progressTotal");
    w.Uint64(r.progress_total);
    w.Key("progress");
    w.StartArray();
    for (const std::string& p : r.progress) w.RawValue(p.data(), p.size(), rapidjson::kObjectType);
    w.EndArray();
    if (r.done) {
      w.Key("httpStatus");
      w.Int(r.result.status);
      w.Key("result");
      w.RawValue(r.result.body.data(), r.result.body.size(), rapidjson::kObjectType);
    }
    w.EndObject();
    return net::HttpResponse::Json(200, std::string(buf.GetString(), buf.GetSize()));
  }

  // GET /api/v1/clusters/<name>/{resources,events,metrics,scans/latest,scans/diff}.
  net::HttpResponse ServeClusterState(const net::HttpRequest& req) {
    std::string_view rest = std::string_view(req.path).substr(kClustersPrefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return JsonError(404, "not found");
    std::string_view what = rest.substr(slash + 1);
    std::string cluster;
    if (!PercentDecode(rest.substr(0, slash), false, &cluster)) {
      return JsonError(400, "malformed percent-encoding in the cluster name");
    }
    std::map<std::string, std::string> query;
    std::string error;
    if (what == "resources") {
      error = ParseQuery(req.query, {"kind", "namespace"}, &query);
    } else if (what == "events") {
      error = ParseQuery(req.query, {"namespace", "limit"}, &query);
    } else if (what == "audit") {
      error = ParseQuery(req.query, {"limit"}, &query);
    } else if (what == "metrics" || what == "scans/latest" || what == "scans/diff") {
      error = ParseQuery(req.query, {}, &query);
    } else {
      return JsonError(404, "not found");
    }
    if (!error.empty()) return JsonError(400, error);
    if (!backend.known(cluster)) {
      return JsonError(404, fmt::format("unknown cluster \"{}\"", cluster.substr(0, 253)));
    }
    auto bad = [](const std::string& name, std::string_view rule) {
      return JsonError(400, fmt::format("query parameter {}: {}", name, rule));
    };
    std::optional<std::string> ns;
    if (auto it = query.find("namespace"); it != query.end()) {
      if (it->second.size() > 253) return bad("namespace", "must be 0..253 bytes");
      ns = it->second;
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&](std::string_view v) {
      w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    auto raw = [&](const std::string& json, rapidjson::Type type) {
      w.RawValue(json.data(), json.size(), type);
    };
    if (what == "resources") {
      ResourceFilter filter;
      filter.ns = ns;
      if (auto it = query.find("kind"); it != query.end()) {
        if (it->second.empty() || it->second.size() > 64) return bad("kind", "must be 1..64 bytes");
        filter.kind = it->second;
      }
      ResourcesView view;
      if (!store->Resources(cluster, filter, &view, &error)) return StoreError(cluster, error);
      w.StartObject();
      w.Key("cluster");
      str(cluster);
      w.Key("kinds");
      raw(view.kinds_json, rapidjson::kArrayType);
      w.Key("items");
      w.StartArray();
      for (const ResourceRecord& r : view.items) {
        w.StartObject();
        w.Key("kind");
        str(r.kind);
        w.Key("namespace");
        str(r.ns);
        w.Key("name");
        str(r.name);
        w.Key("object");
        raw(r.object, rapidjson::kObjectType);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    } else if (what == "events" || what == "audit") {
      // Events: newest 500 by default, at most 5,000; audit records: 100 and 10,000.
      const bool events = what == "events";
      const int64_t max = events ? 5000 : 10000;
      int64_t limit = events ? 500 : 100;
      if (auto it = query.find("limit"); it != query.end()) {
        const std::string& v = it->second;
        bool digits = !v.empty() && v.size() <= 5 &&
                      std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        limit = digits ? std::stoll(v) : 0;
        if (limit < 1 || limit > max) {
          return bad("limit", fmt::format("must be an integer 1..{}", max));
        }
      }
      std::vector<std::string> items;
      bool read = events ? store->Events(cluster, ns, limit, &items, &error)
                         : store->Audit(cluster, limit, &items, &error);
      if (!read) return StoreError(cluster, error);
      w.StartObject();
      w.Key("items");
      w.StartArray();
      for (const std::string& item : items) raw(item, rapidjson::kObjectType);
      w.EndArray();
      w.EndObject();
    } else if (what == "scans/latest" || what == "scans/diff") {
      std::optional<std::string> latest, previous;
      if (!store->Scans(cluster, &latest, &previous, &error)) return StoreError(cluster, error);
      if (!latest) return JsonError(404, "no scan report received yet");
      if (what == "scans/latest") return net::HttpResponse::Json(200, std::move(*latest));
      std::string diff = ScanDiff(*latest, previous);
      if (diff.empty()) return StoreError(cluster, "a stored scan report does not parse");
      return net::HttpResponse::Json(200, std::move(diff));
    } else {
      std::optional<std::string> metrics;
      if (!store->Metrics(cluster, &metrics, &error)) return StoreError(cluster, error);
      if (metrics) return net::HttpResponse::Json(200, std::move(*metrics));
      return net::HttpResponse::Json(200, R"({"available":false,"reason":"no sample received yet"})");
    }
    return net::HttpResponse::Json(200, std::string(buf.GetString(), buf.GetSize()));
  }

  static net::HttpResponse StoreError(const std::string& cluster, const std::string& error) {
    log::Error("state store query failed", {{"cluster", cluster}, {"error", error}});
    return JsonError(500, "state store query failed");
  }

  static net::HttpResponse ResultToHttp(const RequestResult& r) {
    using S = RequestResult::Status;
    auto err = [](int status, const std::string& msg) {
      return net::HttpResponse::Json(status, fmt::format(R"({{"error":"{}"}})", net::JsonEscape(msg)));
    };
    switch (r.status) {
      case S::kOk:
        if (r.response.ok) {
          return net::HttpResponse::Json(200, fmt::format(R"({{"ok":true,"payload":{}}})", r.response.payload));
        }
        return net::HttpResponse::Json(
            200, fmt::format(R"({{"ok":false,"error":{{"code":"{}","message":"{}"}}}})",
                             net::JsonEscape(r.response.error.code),
                             net::JsonEscape(r.response.error.message)));
      case S::kNotConnected: return err(404, r.error);
      case S::kBusy: return err(429, r.error);
      case S::kTimeout: return err(504, r.error);
      case S::kDisconnected: return err(502, r.error);
      case S::kInvalid: return err(400, r.error);
      case S::kStopped: return err(503, r.error);
    }
    return err(500, "unknown");
  }
};

RestApi::RestApi(ApiUserStore* users, StateStore* store, RestApiBackend backend)
    : impl_(std::make_shared<Impl>()) {
  impl_->users = users;
  impl_->store = store;
  impl_->backend = std::move(backend);
  impl_->audit_writer = std::make_unique<AuditWriter>(store);
}

// The writer is closed here, on the thread that destroys the API, rather
// than by ~Impl, which may run wherever a handler drops the last reference
// (the tunnel thread): closing stores the queued records and joins.
RestApi::~RestApi() { impl_->audit_writer->Close(); }

void RestApi::Install(net::HttpServer& server) { impl_->Install(server); }

}  // namespace srexpert::hub
