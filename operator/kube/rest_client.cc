#include "kube/rest_client.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/json.h"
#include "common/json_skip.h"
#include "common/log.h"
#include "kube/rate_limiter.h"
#include "kube/token_source.h"
#include "kube/url.h"

namespace srexpert::kube {

namespace {

const char* ContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
    case PatchType::kApply: return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

ObjectRef RefOf(const rapidjson::Value& object) {
  return {json::GetString(object, {"apiVersion"}), json::GetString(object, {"kind"}),
          json::GetString(object, {"metadata", "namespace"}),
          json::GetString(object, {"metadata", "name"})};
}

std::string DescribeRef(const ObjectRef& ref) {
  std::string out = ref.api_version + "/" + ref.kind;
  if (!ref.ns.empty()) out += " " + ref.ns + "/";
  else out += " ";
  return out + ref.name;
}

}  // namespace

Result<std::shared_ptr<RestClient>> RestClient::New(RestConfig config, ClientOptions options) {
  auto transport = HttpTransport::New(config);
  if (!transport) return transport.error();
  std::shared_ptr<RestClient> client(
      new RestClient(std::move(config), options, std::move(*transport)));
  // Fail fast on an unreadable token file rather than on the first request.
  bool refreshable = false;
  if (auto token = client->Authorization(&refreshable); !token) return token.error();
  log::Info("kubernetes client created", {{"config", client->config_.Describe()}});
  return client;
}

RestClient::RestClient(RestConfig config, ClientOptions options,
                       std::unique_ptr<HttpTransport> transport)
    : config_(std::move(config)),
      options_(options),
      clock_(options.clock ? *options.clock : SystemClock()),
      own_random_(options.random ? nullptr : std::make_unique<RandomSource>()),
      random_(options.random ? *options.random : *own_random_),
      transport_(std::move(transport)),
      tokens_(std::make_unique<TokenSource>(
          config_.bearer_token, config_.bearer_token_file, config_.token_refresh_period, clock_,
          config_.exec ? TokenSource::ExecRunner([exec = *config_.exec] { return RunExecPlugin(exec); })
                       : TokenSource::ExecRunner())),
      limiter_(std::make_unique<RateLimiter>(config_.qps, config_.burst, clock_)),
      mapper_([this](const std::string& path, const CallBounds& bounds) {
        return GetPath(path, bounds);
      }) {}

RestClient::~RestClient() = default;

Result<std::string> RestClient::Authorization(bool* refreshable) {
  *refreshable = tokens_->Refreshable();
  return tokens_->Token();
}

Result<Document> RestClient::Do(const Call& call) {
  BackoffSchedule backoff(options_.retry.backoff, random_);
  bool refreshed_token = false;
  const Cancellation* cancel = call.bounds.cancel ? &*call.bounds.cancel : nullptr;
  const std::optional<Clock::Steady>& deadline = call.bounds.deadline;
  auto cancelled = [&] {
    return Error(Reason::kCancelled, fmt::format("{} {}: cancelled", call.method, call.path));
  };
  for (int attempt = 1;; ++attempt) {
    if (cancel && cancel->cancelled()) return cancelled();
    limiter_->Acquire();
    bool refreshable = false;
    auto token = Authorization(&refreshable);
    if (!token) return token.error();
    HttpRequest request{call.method, call.path, call.body, call.content_type, std::move(*token)};
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - clock_.Now());
      if (left.count() <= 0) {
        return Error(Reason::kTimeout,
                     fmt::format("{} {}: the call's deadline passed before it was sent",
                                 call.method, call.path));
      }
      request.timeout = left;
    }
    auto response = transport_->Send(request, cancel);
    if (!response && response.error().reason() == Reason::kCancelled) return response.error();
    metrics_.Record(call.verb, response ? response->status : 0);
    // The transport cut the request at the deadline: no time is left to retry.
    if (!response && deadline && response.error().reason() == Reason::kTimeout) {
      return response.error();
    }

    Error error;
    if (response && response->status >= 200 && response->status <= 299) {
      if (response->body.empty()) return Document(rapidjson::kObjectType);
      std::string why;
      auto doc = call.skip_server_bookkeeping
                     ? json::ParseSkipping(response->body, json::ServerBookkeepingPaths(), &why)
                     : json::Parse(response->body, &why);
      if (!doc) {
        return Error(Reason::kDecode, fmt::format("{} {}: {}", call.method, call.path, why),
                     response->status);
      }
      return std::move(*doc);
    }
    error = response ? Error::FromResponse(response->status, response->body, response->retry_after)
                     : response.error();

    // A token file may have rotated since we last read it, or a plugin token
    // been revoked: re-read (re-run) once.
    if (error.reason() == Reason::kUnauthorized && refreshable && !refreshed_token) {
      refreshed_token = true;
      tokens_->Invalidate();
      --attempt;
      continue;
    }
    bool unprocessed = error.reason() == Reason::kTooManyRequests;
    bool may_retry = error.retryable() && (unprocessed || call.replay == Replay::kSafe);
    if (!may_retry) return error;
    if (!deadline && attempt >= options_.retry.max_attempts) return error;

    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(backoff.Next());
    if (auto ra = error.retry_after()) {
      delay = std::max<std::chrono::milliseconds>(delay,
                                                  std::min(*ra, options_.retry.max_retry_after));
    }
    // A retry the deadline would cut short is no retry: answer now, so the
    // caller still has its remaining time.
    if (deadline && clock_.Now() + delay >= *deadline) return error;
    log::Warn("kubernetes request failed; retrying",
              {{"verb", call.verb},
               {"path", call.path},
               {"attempt", attempt},
               {"delay_ms", static_cast<int64_t>(delay.count())},
               {"error", error.ToString()}});
    if (!Pause(delay, cancel)) return cancelled();
  }
}

bool RestClient::Pause(std::chrono::milliseconds delay, const Cancellation* cancel) {
  if (!cancel) {
    clock_.SleepFor(delay);
    return true;
  }
  // Steps on the injected clock (instant with a FakeClock) so that tests
  // keep control of time while a real sleep still notices cancellation.
  constexpr std::chrono::milliseconds kStep{50};
  while (delay.count() > 0) {
    if (cancel->cancelled()) return false;
    auto step = std::min(delay, kStep);
    clock_.SleepFor(step);
    delay -= step;
  }
  return !cancel->cancelled();
}

Result<ResourceInfo> RestClient::Resolve(std::string_view api_version, std::string_view kind,
                                         const CallBounds& bounds) {
  if (api_version.empty() || kind.empty()) {
    return Error(Reason::kBadRequest, "apiVersion and kind are required to address an object");
  }
  return mapper_.Resolve(api_version, kind, bounds);
}

Result<Document> RestClient::GetPath(const std::string& path, const CallBounds& bounds) {
  return Do({"get", "GET", path, "", "", Replay::kSafe, bounds});
}

Result<std::string> RestClient::PathFor(const ObjectRef& ref, std::string_view subresource,
                                        bool collection_all_namespaces, const CallBounds& bounds) {
  auto info = Resolve(ref.api_version, ref.kind, bounds);
  if (!info) return info.error();
  std::string ns = ref.ns;
  if (info->namespaced && ns.empty() && !(ref.name.empty() && collection_all_namespaces)) {
    ns = config_.ns;
  }
  if (ref.name.empty()) return info->CollectionPath(ns);
  return info->ObjectPath(ns, ref.name, subresource);
}

Result<Document> RestClient::Get(const ObjectRef& ref, const CallBounds& bounds) {
  if (ref.name.empty()) return Error(Reason::kBadRequest, "Get: name is required");
  auto path = PathFor(ref, "", false, bounds);
  if (!path) return path.error();
  return Do({"get", "GET", *path, "", "", Replay::kSafe, bounds});
}

Result<Document> RestClient::List(const ObjectRef& ref, const ListOptions& options) {
  ObjectRef collection = ref;
  collection.name.clear();
  auto path = PathFor(collection, "", true, options.bounds);
  if (!path) return path.error();
  QueryString q;
  q.Add("labelSelector", options.label_selector)
      .Add("fieldSelector", options.field_selector)
      .Add("continue", options.continue_token)
      .Add("resourceVersion", options.resource_version);
  if (options.limit > 0) q.Add("limit", static_cast<long long>(options.limit));
  return Do({"list", "GET", *path + q.str(), "", "", Replay::kSafe, options.bounds,
             options.skip_server_bookkeeping});
}

Result<Document> RestClient::ListAll(const ObjectRef& ref, ListOptions options) {
  const std::string initial_continue = options.continue_token;
  auto first = List(ref, options);
  if (!first) return first;
  Document all = std::move(*first);
  if (!all.IsObject()) return Error(Reason::kDecode, "list response is not an object");
  auto& alloc = all.GetAllocator();
  if (!all.HasMember("items") || !all["items"].IsArray()) {
    json::Set(all, "items", rapidjson::Value(rapidjson::kArrayType), alloc);
  }
  for (;;) {
    std::string next = json::GetString(all, {"metadata", "continue"});
    if (next.empty()) break;
    options.continue_token = next;
    auto page = List(ref, options);
    if (!page) {
      if (page.error().IsGone() && initial_continue.empty()) {
        // The continue token expired (compaction): like client-go's pager,
        // fall back to a single full list.
        log::Info("list continue token expired; listing without pagination",
                  {{"kind", ref.kind}});
        ListOptions full = options;
        full.limit = 0;
        full.continue_token.clear();
        return List(ref, full);
      }
      return page;
    }
    if (auto* page_items = json::FindMutable(*page, {"items"}); page_items && page_items->IsArray()) {
      for (auto& item : page_items->GetArray()) {
        all["items"].PushBack(rapidjson::Value(item, alloc), alloc);
      }
    }
    auto& meta = json::EnsureObject(all, {"metadata"}, alloc);
    json::SetString(meta, "continue", json::GetString(*page, {"metadata", "continue"}), alloc);
    std::string rv = json::GetString(*page, {"metadata", "resourceVersion"});
    if (!rv.empty()) json::SetString(meta, "resourceVersion", rv, alloc);
  }
  if (auto* meta = json::FindMutable(all, {"metadata"})) {
    json::Remove(*meta, "continue");
    json::Remove(*meta, "remainingItemCount");
  }
  return all;
}

Result<Document> RestClient::Write(const char* verb, const char* method,
                                   const rapidjson::Value& object, std::string_view subresource,
                                   const WriteOptions& options, Replay replay) {
  if (!object.IsObject()) return Error(Reason::kBadRequest, fmt::format("{}: not an object", verb));
  ObjectRef ref = RefOf(object);
  bool create = std::string_view(method) == "POST";
  if (!create && ref.name.empty()) {
    return Error(Reason::kBadRequest, fmt::format("{}: metadata.name is required", verb));
  }
  if (create) ref.name.clear();
  auto path = PathFor(ref, subresource, false, options.bounds);
  if (!path) return path.error();
  QueryString q;
  q.Add("fieldManager", options.field_manager);
  if (options.dry_run) q.Add("dryRun", "All");
  return Do({verb, method, *path + q.str(), json::Dump(object), "application/json", replay,
             options.bounds});
}

Result<Document> RestClient::Create(const rapidjson::Value& object, const WriteOptions& options) {
  return Write("create", "POST", object, "", options, Replay::kOnlyIfUnprocessed);
}

Result<Document> RestClient::Update(const rapidjson::Value& object, const WriteOptions& options) {
  return Write("update", "PUT", object, "", options, Replay::kSafe);
}

Result<Document> RestClient::UpdateStatus(const rapidjson::Value& object,
                                          const WriteOptions& options) {
  return Write("update", "PUT", object, "status", options, Replay::kSafe);
}

Result<Document> RestClient::CreateSubresource(const ObjectRef& ref, std::string_view subresource,
                                               const rapidjson::Value& body,
                                               const SubresourceOptions& options) {
  if (ref.name.empty()) return Error(Reason::kBadRequest, "CreateSubresource: name is required");
  if (subresource.empty()) {
    return Error(Reason::kBadRequest, "CreateSubresource: subresource is required");
  }
  if (!body.IsObject()) {
    return Error(Reason::kBadRequest, "CreateSubresource: body is not an object");
  }
  auto path = PathFor(ref, subresource, false, options.write.bounds);
  if (!path) return path.error();
  QueryString q;
  q.Add("fieldManager", options.write.field_manager);
  if (options.write.dry_run) q.Add("dryRun", "All");
  return Do({"create", "POST", *path + q.str(), json::Dump(body), "application/json",
             options.replay_safe ? Replay::kSafe : Replay::kOnlyIfUnprocessed,
             options.write.bounds});
}

Result<Document> RestClient::Patch(const ObjectRef& ref, PatchType type, std::string_view body,
                                   const PatchOptions& options) {
  if (ref.name.empty()) return Error(Reason::kBadRequest, "Patch: name is required");
  if (type == PatchType::kApply && options.field_manager.empty()) {
    return Error(Reason::kBadRequest, "server-side apply requires a field manager");
  }
  auto path = PathFor(ref, options.subresource, false, options.bounds);
  if (!path) return path.error();
  QueryString q;
  q.Add("fieldManager", options.field_manager);
  if (type == PatchType::kApply) q.AddBool("force", options.force);
  if (options.dry_run) q.Add("dryRun", "All");
  Replay replay = type == PatchType::kJson ? Replay::kOnlyIfUnprocessed : Replay::kSafe;
  return Do({"patch", "PATCH", *path + q.str(), std::string(body), ContentType(type), replay,
             options.bounds});
}

Result<Document> RestClient::Apply(const rapidjson::Value& object, const PatchOptions& options) {
  if (!object.IsObject()) return Error(Reason::kBadRequest, "Apply: not an object");
  return Patch(RefOf(object), PatchType::kApply, json::Dump(object), options);
}

Result<Document> RestClient::Delete(const ObjectRef& ref, const DeleteOptions& options) {
  if (ref.name.empty()) return Error(Reason::kBadRequest, "Delete: name is required");
  auto path = PathFor(ref, "", false, options.bounds);
  if (!path) return path.error();
  Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  json::SetString(body, "kind", "DeleteOptions", a);
  json::SetString(body, "apiVersion", "v1", a);
  if (!options.propagation_policy.empty()) {
    json::SetString(body, "propagationPolicy", options.propagation_policy, a);
  }
  if (options.precondition_uid || options.precondition_resource_version) {
    auto& pre = json::EnsureObject(body, {"preconditions"}, a);
    if (options.precondition_uid) json::SetString(pre, "uid", *options.precondition_uid, a);
    if (options.precondition_resource_version) {
      json::SetString(pre, "resourceVersion", *options.precondition_resource_version, a);
    }
  }
  if (options.grace_period_seconds) {
    json::Set(body, "gracePeriodSeconds", rapidjson::Value(*options.grace_period_seconds), a);
  }
  if (options.dry_run) {
    rapidjson::Value all(rapidjson::kArrayType);
    all.PushBack(json::String("All", a), a);
    json::Set(body, "dryRun", std::move(all), a);
  }
  log::Debug("deleting", {{"object", DescribeRef(ref)}});
  return Do({"delete", "DELETE", *path, json::Dump(body), "application/json", Replay::kSafe,
             options.bounds});
}

Result<std::unique_ptr<ResponseStream>> RestClient::OpenWatch(const ObjectRef& ref,
                                                              const WatchOptions& options,
                                                              const Cancellation& cancel) {
  ObjectRef collection = ref;
  collection.name.clear();
  auto path = PathFor(collection, "", true, CallBounds{cancel, std::nullopt});
  if (!path) return path.error();
  QueryString q;
  q.Add("watch", "true")
      .Add("labelSelector", options.label_selector)
      .Add("fieldSelector", options.field_selector)
      .Add("resourceVersion", options.resource_version)
      .AddBool("allowWatchBookmarks", options.allow_bookmarks);
  if (options.timeout_seconds > 0) q.Add("timeoutSeconds", static_cast<long long>(options.timeout_seconds));

  bool refreshed_token = false;
  for (;;) {
    limiter_->Acquire();
    bool refreshable = false;
    auto token = Authorization(&refreshable);
    if (!token) return token.error();
    auto stream = transport_->Open({"GET", *path + q.str(), "", "", std::move(*token)}, cancel);
    metrics_.Record("watch", stream ? 200
                             : stream.error().reason() == Reason::kTransport ||
                                       stream.error().reason() == Reason::kCancelled
                                 ? 0
                                 : stream.error().code());
    if (!stream && stream.error().reason() == Reason::kUnauthorized && refreshable &&
        !refreshed_token) {
      refreshed_token = true;
      tokens_->Invalidate();
      continue;
    }
    return stream;
  }
}

}  // namespace srexpert::kube
