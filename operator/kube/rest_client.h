// The Kubernetes REST client: CRUD, patch, server-side apply, delete and the
// watch request, on JSON objects addressed by apiVersion + kind (+ namespace,
// name). Resource paths come from discovery (ResourceMapper).
//
// Every request goes through the client-side rate limiter (qps/burst), carries
// the current bearer token (re-read from its file periodically and once after
// a 401), is counted in metrics() by verb and code, and is retried with
// backoff when that is safe:
//   * 429 TooManyRequests: the server did not process the request, so every
//     verb is retried, waiting at least Retry-After (capped by
//     RetryPolicy::max_retry_after).
//   * 5xx and transport errors: retried only for requests whose replay cannot
//     do something the caller did not ask for: get, list, update (PUT; with
//     the object's resourceVersion a replay of an applied update fails with
//     Conflict rather than overwriting), delete (a replay may answer NotFound),
//     merge/strategic-merge patches and server-side apply (idempotent).
//     create (POST, possibly with generateName) and JSON patches are NOT
//     retried on 5xx/transport errors: cpprestsdk cannot tell whether the
//     request reached the server, and a replay could create twice or apply
//     an "add" twice. The caller sees the error and decides.
// Retries stop after RetryPolicy::max_attempts or, for a call given
// CallBounds with a deadline, at the deadline (call_bounds.h). Every verb
// takes CallBounds (in its options, or as an argument for Get and GetPath):
// work done for someone with a deadline, such as an action, passes it so a
// throttling server cannot hold the call past it.
// Thread-safe: one client is shared by every informer and controller.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "common/clock.h"
#include "common/backoff.h"
#include "kube/call_bounds.h"
#include "kube/cancellation.h"
#include "kube/config.h"
#include "kube/error.h"
#include "kube/http_transport.h"
#include "kube/request_metrics.h"
#include "kube/resource_mapper.h"

namespace srexpert::kube {

using Document = rapidjson::Document;

// Addresses an object (name set) or a collection (name empty). For namespaced
// kinds an empty `ns` means the config's namespace for single-object calls
// and ALL namespaces for List/ListAll/Watch. Ignored for cluster-scoped kinds.
struct ObjectRef {
  std::string api_version;  // "v1", "apps/v1", "coordination.k8s.io/v1"
  std::string kind;         // "ConfigMap"
  std::string ns;
  std::string name;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;               // page size; 0 = everything in one response
  std::string continue_token;      // from a previous page's metadata.continue
  std::string resource_version;    // "" = most recent (quorum read)
  // Informers pass their stop signal as bounds.cancel so shutdown does not
  // wait for a list.
  CallBounds bounds;
  // Leave metadata.managedFields and the last-applied annotation out of the
  // returned items (json::ServerBookkeepingPaths): for readers that never
  // use them, e.g. the stream collectors; nearly half of a pod's bytes.
  bool skip_server_bookkeeping = false;
};

struct WriteOptions {
  std::string field_manager;       // recorded in managedFields
  bool dry_run = false;            // dryRun=All
  CallBounds bounds;
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in kinds only)
  kApply,           // application/apply-patch+yaml (server-side apply)
};

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply only: take ownership of conflicting fields
  std::string subresource;    // e.g. "status"
  bool dry_run = false;
  CallBounds bounds;
};

struct DeleteOptions {
  std::string propagation_policy;  // "Foreground" | "Background" | "Orphan" | "" (server default)
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::optional<int64_t> grace_period_seconds;
  bool dry_run = false;
  CallBounds bounds;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;     // start after this version; "" = from "now" with synthetic ADDs
  bool allow_bookmarks = true;
  int64_t timeout_seconds = 0;      // server-side watch duration; 0 = server default
};

// A create on a subresource (POST .../<name>/<subresource>), e.g. a pod's
// eviction or a service account's token.
struct SubresourceOptions {
  WriteOptions write;  // write.bounds bounds the call
  // The caller asserts that a replay of a request the server may have
  // processed is harmless (an eviction: a replay finds the pod terminating or
  // gone), so 5xx and transport errors are retried too. False: treated as a
  // create, retried only on 429.
  bool replay_safe = false;
};

struct RetryPolicy {
  int max_attempts = 5;  // total attempts per call, first one included
  BackoffPolicy backoff{std::chrono::milliseconds(200), std::chrono::milliseconds(10000), 2.0,
                        true};
  std::chrono::seconds max_retry_after{60};
};

struct ClientOptions {
  Clock* clock = nullptr;          // rate limiting, backoff sleeps, token refresh; SystemClock() if null
  RandomSource* random = nullptr;  // backoff jitter; an internal source if null
  RetryPolicy retry;
};

class TokenSource;
class RateLimiter;

class RestClient {
 public:
  // Validates the config (URL, TLS material, token file) and builds the
  // client. `options.clock`/`random` must outlive the client.
  static Result<std::shared_ptr<RestClient>> New(RestConfig config, ClientOptions options = {});
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  const RestConfig& config() const { return config_; }
  const std::string& default_namespace() const { return config_.ns; }
  const RequestMetrics& metrics() const { return metrics_; }
  // The clock of rate limiting, retry waits and CallBounds::deadline.
  Clock& clock() const { return clock_; }

  Result<Document> Get(const ObjectRef& ref, const CallBounds& bounds = {});
  // One page: a *List document (items, metadata.resourceVersion,
  // metadata.continue when more pages remain).
  Result<Document> List(const ObjectRef& ref, const ListOptions& options = {});
  // Follows metadata.continue until the last page and returns one list with
  // every item and the list's resourceVersion. If a continue token expires
  // (410) mid-way it falls back to one unpaginated list, as client-go's pager.
  Result<Document> ListAll(const ObjectRef& ref, ListOptions options = {});

  // The object's apiVersion, kind, metadata.namespace and metadata.name
  // address it. Update and UpdateStatus send metadata.resourceVersion as the
  // object has it: when set, a stale version fails with Conflict.
  Result<Document> Create(const rapidjson::Value& object, const WriteOptions& options = {});
  Result<Document> Update(const rapidjson::Value& object, const WriteOptions& options = {});
  Result<Document> UpdateStatus(const rapidjson::Value& object, const WriteOptions& options = {});

  // POST of `body` to ref's object path + "/" + subresource (ref.name
  // required), e.g. {"v1","Pod",ns,name}, "eviction", a policy/v1 Eviction.
  // Returns the server's answer (for an eviction, a Status).
  Result<Document> CreateSubresource(const ObjectRef& ref, std::string_view subresource,
                                     const rapidjson::Value& body,
                                     const SubresourceOptions& options = {});

  Result<Document> Patch(const ObjectRef& ref, PatchType type, std::string_view body,
                         const PatchOptions& options = {});
  // Server-side apply of `object` (serialized as JSON, which is YAML).
  // options.field_manager is required.
  Result<Document> Apply(const rapidjson::Value& object, const PatchOptions& options);

  // Returns what the server returns: the object (still present with
  // deletionTimestamp when finalizers or foreground deletion hold it, or as it
  // was) or a Status.
  Result<Document> Delete(const ObjectRef& ref, const DeleteOptions& options = {});

  // Starts a watch and returns once the server accepted it (headers
  // received); the body is read by WatchStream (watch.h). Not retried here:
  // Watcher owns reconnection.
  Result<std::unique_ptr<ResponseStream>> OpenWatch(const ObjectRef& ref,
                                                    const WatchOptions& options,
                                                    const Cancellation& cancel);

  Result<ResourceInfo> Resolve(std::string_view api_version, std::string_view kind,
                               const CallBounds& bounds = {});
  // Forgets discovery results (e.g. after CRDs were deleted).
  void InvalidateDiscovery() { mapper_.Invalidate(); }
  // GET of any API path (e.g. "/version", "/apis"), decoded as JSON.
  Result<Document> GetPath(const std::string& path, const CallBounds& bounds = {});

 private:
  enum class Replay { kSafe, kOnlyIfUnprocessed };
  struct Call {
    std::string verb;    // metrics/logging: get, list, create, update, patch, delete, watch
    std::string method;  // HTTP
    std::string path;
    std::string body;
    std::string content_type;
    Replay replay = Replay::kSafe;
    CallBounds bounds;
    bool skip_server_bookkeeping = false;  // json::ParseSkipping the response
  };

  RestClient(RestConfig config, ClientOptions options, std::unique_ptr<HttpTransport> transport);
  Result<Document> Do(const Call& call);
  // Sleeps on the client's clock in short steps, returning early when
  // `cancel` fires; false when cancelled.
  bool Pause(std::chrono::milliseconds delay, const Cancellation* cancel);
  Result<std::string> Authorization(bool* refreshable);
  // Resolves ref and computes the object path (or collection when name empty).
  Result<std::string> PathFor(const ObjectRef& ref, std::string_view subresource,
                              bool collection_all_namespaces, const CallBounds& bounds);
  Result<Document> Write(const char* verb, const char* method, const rapidjson::Value& object,
                         std::string_view subresource, const WriteOptions& options,
                         Replay replay);

  RestConfig config_;
  ClientOptions options_;
  Clock& clock_;
  std::unique_ptr<RandomSource> own_random_;
  RandomSource& random_;
  std::unique_ptr<HttpTransport> transport_;
  std::unique_ptr<TokenSource> tokens_;
  std::unique_ptr<RateLimiter> limiter_;
  RequestMetrics metrics_;
  ResourceMapper mapper_;
};

}  // namespace srexpert::kube
