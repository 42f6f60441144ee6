// The hub's REST API: its routes, and who may call each of them.
//
//   GET  /healthz                               never authenticated
//   GET  /api/v1/me                             the caller: name, role, clusters
//   GET  /api/v1/checks                         the scan check catalogue (title, why, remediation)
//   GET  /api/v1/clusters                       the caller's clusters, sessions, lastAck
//   GET  /api/v1/clusters/<name>/resources      ?kind=&namespace=
//   GET  /api/v1/clusters/<name>/events         ?namespace=&limit=
//   GET  /api/v1/clusters/<name>/metrics
//   GET  /api/v1/clusters/<name>/scans/latest, /scans/diff
//   GET  /api/v1/clusters/<name>/audit          ?limit=  requests made through the API
//   POST /api/v1/clusters/<name>/requests       {"kind","payload","timeoutMs","async"}
//   GET  /api/v1/clusters/<name>/requests/<id>  an async request: progress, then result
//
// Authorization, in one place (Authorize): with a users file every route
// but /healthz needs "Authorization: Bearer <token>" — 401 without a valid
// token; 403 for a cluster the user may not see, and for a viewer POSTing
// (every GET needs role viewer, every POST role operator, and so does
// reading an asynchronous request's record: it holds the result). Without
// a users file everyone is an operator named "anonymous"; the hub allows
// that on a loopback address only (Hub::Start). A request's payload.requestedBy is
// the authenticated name. Every POST by a known user is audited (state
// store, GET .../audit): who, cluster, kind, target and outcome — never the
// payload, which may hold chart values or manifests with credentials.
// Audit records are stored by a thread of their own (hub/audit_writer.h):
// a request's outcome is known on the hub's tunnel thread, which must not
// wait for SQLite. There, with the writer's queue full, a record is dropped
// and the drop logged; an API thread (a refused POST) waits for room.
//
// Every answer carries X-Content-Type-Options: nosniff and
// Cache-Control: no-store (state and tokens are not for caches).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hub/hub.h"

namespace srexpert::net {
class HttpServer;
}

namespace srexpert::hub {

class ApiUserStore;
class StateStore;

// What the API needs from the hub's tunnel side. Each function may be
// called from any API thread.
struct RestApiBackend {
  // Every cluster the hub knows (connected or with stored state).
  std::function<std::vector<ClusterStatus>()> clusters;
  // Whether the hub knows this cluster.
  std::function<bool(const std::string& cluster)> known;
  // Hub::SendRequest: `done` runs exactly once, on a hub thread; `progress`
  // (may be empty) for each progress report before it.
  std::function<void(const std::string& cluster, const std::string& kind,
                     const std::string& payload_json, std::chrono::milliseconds timeout,
                     std::function<void(RequestResult)> done,
                     std::function<void(std::string)> progress)>
      send_request;
};

class RestApi {
 public:
  // `users` null: no authentication (see above). `store` must not be null.
  // Both pointers must outlive the server the routes are installed on.
  RestApi(ApiUserStore* users, StateStore* store, RestApiBackend backend);
  // Stores every audit record queued so far, then returns.
  ~RestApi();
  RestApi(const RestApi&) = delete;
  RestApi& operator=(const RestApi&) = delete;
  // Registers the routes above on `server` (before it starts). The handlers
  // hold the API weakly: once it is destroyed they answer 503.
  void Install(net::HttpServer& server);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace srexpert::hub
