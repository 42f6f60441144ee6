#include "test/apiserver/api_handler.h"

#include <fmt/format.h>

#include <thread>
#include <variant>

#include "test/apiserver/discovery.h"
#include "test/apiserver/eviction.h"
#include "test/apiserver/protobuf.h"
#include "test/apiserver/openapi.h"
#include "test/apiserver/table.h"
#include "test/apiserver/watch.h"
#include "test/apiserver/yaml_json.h"

namespace srexpert::testing {
namespace {

HttpResponse JsonResponse(int status, const json::Value& body) {
  HttpResponse r;
  r.status = status;
  r.body = json::Dump(body);
  return r;
}

HttpResponse ErrorResponse(const ApiError& e) {
  HttpResponse r = JsonResponse(e.code, e.ToStatus());
  if (e.retry_after_seconds > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_seconds));
  return r;
}

// A Warning header value (RFC 7234 code 299, as the real server sends).
std::string WarningHeader(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return "299 - \"" + escaped + "\"";
}

HttpResponse FromOutcome(const Outcome& o) {
  HttpResponse r = o.error ? ErrorResponse(*o.error) : JsonResponse(o.code, o.body);
  for (const auto& w : o.warnings) r.headers.emplace_back("Warning", WarningHeader(w));
  return r;
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    if (next > pos) out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

// Decodes a create/update body: JSON, YAML, or protobuf for the built-in
// kinds protobuf.h decodes (a real server answers 415 for protobuf of
// kinds without it: custom resources).
std::variant<json::Document, ApiError> DecodeBody(const HttpRequest& req, const std::string& kind,
                                                  bool builtin) {
  std::string ct = req.Header("content-type");
  std::string media = ct.substr(0, ct.find(';'));
  std::string err;
  if (media.empty() || media == "application/json" || media == "*/*") {
    auto body = json::Parse(req.body, &err);
    if (!body) {
      // The decoder first sniffs apiVersion/kind; the parse error after the
      // colon is rapidjson's, not Go's.
      return BadRequest("the object provided is unrecognized (must be of type " + kind +
                        "): couldn't get version/kind; json parse error: " + err);
    }
    return std::move(*body);
  }
  if (media == "application/yaml") {
    auto body = YamlToJson(req.body, &err);
    if (!body) return BadRequest("error decoding YAML: " + err);
    return std::move(*body);
  }
  if (media == kProtobufMediaType && builtin) return DecodeProtobuf(req.body);
  return UnsupportedMediaType(builtin ? "application/json, application/yaml, application/vnd.kubernetes.protobuf"
                                      : "application/json, application/yaml");
}

// The body of a request whose handler reads JSON text (an Eviction, a
// DeleteOptions): protobuf bodies are decoded to it first.
std::variant<std::string, ApiError> JsonText(const HttpRequest& req) {
  std::string ct = req.Header("content-type");
  if (ct.substr(0, ct.find(';')) != kProtobufMediaType) return req.body;
  auto decoded = DecodeProtobuf(req.body);
  if (auto* e = std::get_if<ApiError>(&decoded)) return *e;
  return json::Dump(std::get<json::Document>(decoded));
}

bool Truthy(const std::string& v) { return v == "1" || v == "true" || v == "True"; }

// A Status for an injected fault with the code's usual reason.
ApiError FaultError(const Fault& f) {
  switch (f.code) {
    case 429:
      return TooManyRequests(f.retry_after_seconds > 0 ? f.retry_after_seconds : 1);
    case 500:
      return InternalError("injected fault");
    case 410:
      return Expired("too old resource version: injected fault");
    case 503: {
      ApiError e{503, "ServiceUnavailable", "the server is currently unable to handle the request"};
      e.retry_after_seconds = f.retry_after_seconds;
      return e;
    }
    case 504:
      return {504, "Timeout", "the server was unable to return a response in the time allotted"};
    case 409:
      return {409, "Conflict", "the server reported a conflict (injected fault)"};
    case 403:
      return {403, "Forbidden", "forbidden (injected fault)"};
    case 401:
      return Unauthorized();
    default:
      return {f.code, "InternalError", fmt::format("injected fault with code {}", f.code)};
  }
}

// Like the real server, a manager defaults to the User-Agent's product
// name ("kubectl/v1.32 (linux/amd64)" -> "kubectl").
std::string FieldManager(const HttpRequest& req) {
  std::string fm = req.Query("fieldManager");
  if (!fm.empty()) return fm;
  std::string ua = req.Header("user-agent");
  return ua.substr(0, std::min<size_t>(ua.find('/'), 128));
}

}  // namespace

ApiHandler::ApiHandler(RestStorage& storage, FaultInjector& faults,
                       const ApiServerOptions& options, std::string token, MetricsApi* metrics)
    : storage_(storage),
      faults_(faults),
      metrics_(metrics),
      options_(options),
      token_(std::move(token)) {}

HttpResponse ApiHandler::Handle(const HttpRequest& req) {
  // Anonymous requests are disabled, as on most managed clusters: every
  // path needs the bearer token.
  if (req.Header("authorization") != "Bearer " + token_) return ErrorResponse(Unauthorized());
  const std::string& p = req.path;
  if (p.rfind("/_test/", 0) == 0) return HandleAdmin(req);
  if (p == "/healthz" || p == "/livez" || p == "/readyz") {
    HttpResponse r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "ok";
    return r;
  }
  if (p == "/version") return JsonResponse(200, VersionInfo());
  if (p == "/openapi/v3") return JsonResponse(200, OpenApiV3Root(storage_.registry()));
  if (p.rfind("/openapi/v3/", 0) == 0) {
    auto doc = OpenApiV3GroupVersion(storage_.registry(), p.substr(12));
    return doc ? JsonResponse(200, *doc) : ErrorResponse(PathNotFound());
  }
  auto segs = Split(p);
  if (segs.empty()) return ErrorResponse(PathNotFound());
  if (segs[0] == "api") {
    if (segs.size() == 1) return JsonResponse(200, CoreApiVersions(server_address_));
    if (segs[1] != "v1") return ErrorResponse(PathNotFound());
    if (segs.size() == 2) return JsonResponse(200, *ApiResourceList(storage_.registry(), "", "v1"));
    return HandleResource(req, "", "v1", {segs.begin() + 2, segs.end()});
  }
  if (segs[0] == "apis") {
    if (segs.size() == 1) {
      json::Document list = ApiGroupList(storage_.registry());
      // metrics-server registers its group with the aggregator (APIService).
      if (auto g = metrics_ ? metrics_->GroupEntry() : std::nullopt) {
        json::Value entry(*g, list.GetAllocator());
        list["groups"].PushBack(entry, list.GetAllocator());
      }
      return JsonResponse(200, list);
    }
    if (segs[1] == "metrics.k8s.io" && metrics_) return HandleMetrics(req, segs);
    if (segs.size() == 2) {
      auto g = ApiGroup(storage_.registry(), segs[1]);
      return g ? JsonResponse(200, *g) : ErrorResponse(PathNotFound());
    }
    if (segs.size() == 3) {
      auto l = ApiResourceList(storage_.registry(), segs[1], segs[2]);
      return l ? JsonResponse(200, *l) : ErrorResponse(PathNotFound());
    }
    return HandleResource(req, segs[1], segs[2], {segs.begin() + 3, segs.end()});
  }
  return ErrorResponse(PathNotFound());
}

HttpResponse ApiHandler::HandleAdmin(const HttpRequest& req) {
  if (req.path == "/_test/faults") {
    if (req.method == "DELETE") {
      faults_.Clear();
      return JsonResponse(200, json::Document(rapidjson::kObjectType));
    }
    if (req.method == "POST") {
      std::string err;
      auto body = json::Parse(req.body, &err);
      auto fault = body ? FaultFromJson(*body, &err) : std::nullopt;
      if (!fault) return ErrorResponse(BadRequest(err));
      faults_.Add(*fault);
      return JsonResponse(201, *body);
    }
  }
  if (req.path == "/_test/metrics" && metrics_) {
    if (req.method == "GET") return JsonResponse(200, metrics_->ToJson());
    if (req.method == "PUT") {
      std::string err;
      auto body = json::Parse(req.body, &err);
      if (!body) return ErrorResponse(BadRequest(err));
      if (auto problem = metrics_->SetFromJson(*body)) return ErrorResponse(BadRequest(*problem));
      return JsonResponse(200, metrics_->ToJson());
    }
  }
  if (req.path == "/_test/requests") {
    if (req.method == "DELETE") {
      faults_.ResetCounts();
      return JsonResponse(200, json::Document(rapidjson::kObjectType));
    }
    if (req.method == "GET") {
      json::Document d(rapidjson::kObjectType);
      for (const auto& [verb, n] : faults_.AllRequests()) {
        json::Set(d, verb, json::Value(static_cast<uint64_t>(n)), d.GetAllocator());
      }
      return JsonResponse(200, d);
    }
  }
  return ErrorResponse(PathNotFound());
}

HttpResponse ApiHandler::HandleMetrics(const HttpRequest& req,
                                       const std::vector<std::string>& segs) {
  // Resource requests count and take faults like any other, so tests can
  // make the aggregated API fail (503 when metrics-server is down).
  if (segs.size() > 3 && metrics_->Served()) {
    bool watch = Truthy(req.Query("watch"));
    bool named = segs.back() != "nodes" && segs.back() != "pods";
    std::string verb;
    const std::string& m = req.method;
    if (m == "GET") verb = watch ? "watch" : (named ? "get" : "list");
    else if (m == "POST") verb = "create";
    else if (m == "PUT") verb = "update";
    else if (m == "PATCH") verb = "patch";
    else if (m == "DELETE") verb = named ? "delete" : "deletecollection";
    if (!verb.empty()) {
      faults_.Count(verb);
      Fault fault;
      if (faults_.Take(verb, req.path, &fault)) {
        if (fault.kind == Fault::Kind::kLatency) std::this_thread::sleep_for(fault.delay);
        if (fault.kind == Fault::Kind::kStatus) return ErrorResponse(FaultError(fault));
      }
    }
  }
  return FromOutcome(metrics_->Handle(req.method, segs, Truthy(req.Query("watch"))));
}

HttpResponse ApiHandler::HandleResource(const HttpRequest& req, const std::string& group,
                                        const std::string& version,
                                        const std::vector<std::string>& rest) {
  // /namespaces/<ns>/<resource>[/<name>[/<sub>]] or /<resource>[/<name>[/<sub>]]
  std::string ns, resource, name, sub;
  // /api/v1/namespaces/<name>/status is the Namespace's own subresource.
  bool ns_scoped_path = rest.size() >= 3 && rest[0] == "namespaces" &&
                        !(group.empty() && (rest[2] == "status" || rest[2] == "finalize"));
  std::vector<std::string> tail;
  if (ns_scoped_path) {
    ns = rest[1];
    tail.assign(rest.begin() + 2, rest.end());
  } else {
    tail = rest;
  }
  if (tail.empty() || tail.size() > 3) return ErrorResponse(PathNotFound());
  resource = tail[0];
  if (tail.size() >= 2) name = tail[1];
  if (tail.size() == 3) sub = tail[2];
  auto type = storage_.registry().Find(group, version, resource);
  if (!type) return ErrorResponse(PathNotFound());
  bool known_sub = sub.empty() || (sub == "status" && type->has_status) ||
                   (sub == "scale" && type->has_scale) ||
                   (sub == "eviction" && group.empty() && resource == "pods");
  if ((!type->namespaced && ns_scoped_path) || !known_sub) return ErrorResponse(PathNotFound());
  if (type->namespaced && !name.empty() && ns.empty()) return ErrorResponse(PathNotFound());
  if (sub == "eviction") {
    // pods/eviction serves create only (a POST to a named subresource).
    if (req.method != "POST") return ErrorResponse(MethodNotSupported({"", "pods/eviction"}, req.method));
    faults_.Count("create");
    Fault fault;
    if (faults_.Take("create", req.path, &fault)) {
      if (fault.kind == Fault::Kind::kLatency) std::this_thread::sleep_for(fault.delay);
      if (fault.kind == Fault::Kind::kStatus) return ErrorResponse(FaultError(fault));
    }
    auto body = JsonText(req);
    if (auto* e = std::get_if<ApiError>(&body)) return ErrorResponse(*e);
    return FromOutcome(EvictPod(storage_, ns, name, std::get<std::string>(body),
                                req.Query("dryRun") == "All"));
  }

  std::string verb;
  const std::string& m = req.method;
  bool watch = Truthy(req.Query("watch"));
  if (m == "GET") verb = watch ? "watch" : (name.empty() ? "list" : "get");
  else if (m == "POST" && name.empty()) verb = "create";
  else if (m == "PUT" && !name.empty()) verb = "update";
  else if (m == "PATCH" && !name.empty()) verb = "patch";
  else if (m == "DELETE") verb = name.empty() ? "deletecollection" : "delete";
  else return ErrorResponse(MethodNotSupported(type->Gr(), m));
  faults_.Count(verb);
  Fault fault;
  bool faulted = faults_.Take(verb, req.path, &fault);
  if (faulted && fault.kind == Fault::Kind::kLatency) {
    std::this_thread::sleep_for(fault.delay);
    faulted = false;
  }
  if (faulted && fault.kind == Fault::Kind::kStatus) return ErrorResponse(FaultError(fault));

  WriteOptions wo;
  // Apply requires an explicit fieldManager; other writes default it.
  bool is_apply = req.Header("content-type").rfind("application/apply-patch+yaml", 0) == 0;
  wo.field_manager = is_apply ? req.Query("fieldManager") : FieldManager(req);
  wo.force = Truthy(req.Query("force"));
  wo.dry_run = req.Query("dryRun") == "All";
  wo.field_validation = req.Query("fieldValidation");
  if (req.HasQuery("dryRun") && !wo.dry_run &&
      (verb == "create" || verb == "update" || verb == "patch" || verb == "delete" ||
       verb == "deletecollection")) {
    // Validation of the request's options object, reported like an object's.
    std::string options = verb == "create"   ? "CreateOptions"
                          : verb == "update" ? "UpdateOptions"
                          : verb == "patch"  ? "PatchOptions"
                                             : "DeleteOptions";
    return ErrorResponse(Invalid(
        "meta.k8s.io", options, "",
        {{"FieldValueNotSupported",
          fmt::format("Unsupported value: []string{{\"{}\"}}: supported values: \"All\"",
                      req.Query("dryRun")),
          "dryRun"}}));
  }
  ListOptions lo;
  lo.label_selector = req.Query("labelSelector");
  lo.field_selector = req.Query("fieldSelector");
  lo.limit = std::strtoll(req.Query("limit", "0").c_str(), nullptr, 10);
  lo.continue_token = req.Query("continue");
  lo.resource_version = req.Query("resourceVersion");
  lo.resource_version_match = req.Query("resourceVersionMatch");

  // Server-side printing (kubectl get): reads answer with a Table when the
  // Accept header prefers one.
  std::optional<TableRequest> table;
  if (verb == "get" || verb == "list" || verb == "watch") {
    std::optional<ApiError> accept_error;
    table = TableFromAccept(req.Header("accept"), req.Query("includeObject"), &accept_error);
    if (accept_error) return ErrorResponse(*accept_error);
  }
  if (sub == "scale") {
    if (verb == "get") return FromOutcome(storage_.GetScale(*type, ns, name));
    if (verb == "update") {
      auto body = DecodeBody(req, "Scale", true);
      if (auto* e = std::get_if<ApiError>(&body)) return ErrorResponse(*e);
      return FromOutcome(storage_.UpdateScale(*type, ns, name, std::move(std::get<json::Document>(body)), wo));
    }
    if (verb == "patch") {
      return FromOutcome(storage_.PatchScale(*type, ns, name, req.Header("content-type"), req.body, wo));
    }
    return ErrorResponse(MethodNotSupported(type->Gr(), m));
  }
  if (verb == "get" || verb == "list") {
    Outcome o = verb == "get" ? storage_.Get(*type, version, ns, name)
                              : storage_.List(*type, version, ns, lo);
    if (o.error || !table) return FromOutcome(o);
    HttpResponse r = JsonResponse(o.code, ToTable(*type, version, o.body, *table, false,
                                                  storage_.clock().WallNow()));
    r.content_type = table->MediaType();
    return r;
  }
  if (verb == "watch") {
    WatchRequest w;
    w.type = type;
    w.version = version;
    w.ns = ns;
    std::string err;
    auto labels = LabelSelector::Parse(lo.label_selector, &err);
    if (!labels) return ErrorResponse(BadRequest(err));
    auto fields = FieldSelector::Parse(lo.field_selector, type.get(), &err);
    if (!fields) return ErrorResponse(BadRequest(err));
    w.labels = *labels;
    w.fields = *fields;
    if (!lo.resource_version.empty() && lo.resource_version != "0") {
      char* end = nullptr;
      uint64_t rv = std::strtoull(lo.resource_version.c_str(), &end, 10);
      if (end == nullptr || *end != '\0' || lo.resource_version[0] == '-') {
        return ErrorResponse(BadRequest(fmt::format(
            "resourceVersion: Invalid value: \"{}\": must be a valid resource version",
            lo.resource_version)));
      }
      w.from_rv = rv;
    }
    w.bookmarks = Truthy(req.Query("allowWatchBookmarks"));
    std::string timeout = req.Query("timeoutSeconds");
    // Without timeoutSeconds the real server picks a random timeout of
    // 30-60 minutes (--min-request-timeout 1800).
    w.timeout = std::chrono::seconds(timeout.empty() ? 1800 : std::strtoll(timeout.c_str(), nullptr, 10));
    w.bookmark_interval = options_.bookmark_interval;
    if (faulted) w.fault = fault;
    w.table = table;
    HttpResponse r;
    r.stream = [this, w](StreamWriter& out) { ServeWatch(storage_, w, out); };
    return r;
  }
  if (verb == "create" || verb == "update") {
    auto body = DecodeBody(req, type->kind, !type->custom);
    if (auto* e = std::get_if<ApiError>(&body)) return ErrorResponse(*e);
    auto& doc = std::get<json::Document>(body);
    if (verb == "create") return FromOutcome(storage_.Create(*type, version, ns, std::move(doc), wo));
    return FromOutcome(storage_.Update(*type, version, ns, name, sub, std::move(doc), wo));
  }
  if (verb == "patch") {
    return FromOutcome(storage_.Patch(*type, version, ns, name, sub, req.Header("content-type"),
                                      req.body, wo));
  }
  DeleteOptions d;
  d.dry_run = wo.dry_run;
  d.propagation_policy = req.Query("propagationPolicy");
  if (!req.body.empty()) {
    auto text = JsonText(req);
    if (auto* e = std::get_if<ApiError>(&text)) return ErrorResponse(*e);
    std::string err;
    auto body = json::Parse(std::get<std::string>(text), &err);
    if (!body || !body->IsObject()) return ErrorResponse(BadRequest("error decoding DeleteOptions: " + err));
    if (auto* p = json::Find(*body, {"propagationPolicy"}); p && p->IsString()) {
      d.propagation_policy = p->GetString();
    }
    // orphanDependents is the deprecated spelling of Orphan/Background.
    if (auto* o = json::Find(*body, {"orphanDependents"}); o && o->IsBool() && d.propagation_policy.empty()) {
      d.propagation_policy = o->GetBool() ? "Orphan" : "Background";
    }
    if (auto* u = json::Find(*body, {"preconditions", "uid"}); u && u->IsString()) d.precondition_uid = u->GetString();
    if (auto* v = json::Find(*body, {"preconditions", "resourceVersion"}); v && v->IsString()) {
      d.precondition_rv = v->GetString();
    }
    if (const auto* dr = json::Find(*body, {"dryRun"}); dr && dr->IsArray() && !dr->Empty()) d.dry_run = true;
  }
  if (!d.propagation_policy.empty() && d.propagation_policy != "Orphan" &&
      d.propagation_policy != "Background" && d.propagation_policy != "Foreground") {
    return ErrorResponse(Invalid("meta.k8s.io", "DeleteOptions", "",
                                 {{"FieldValueNotSupported",
                                   fmt::format("Unsupported value: \"{}\": supported values: "
                                               "\"Foreground\", \"Background\", \"Orphan\", \"nil\"",
                                               d.propagation_policy),
                                   "propagationPolicy"}}));
  }
  if (verb == "delete") return FromOutcome(storage_.Delete(*type, version, ns, name, d));
  return FromOutcome(storage_.DeleteCollection(*type, version, ns, lo, d));
}

}  // namespace srexpert::testing
