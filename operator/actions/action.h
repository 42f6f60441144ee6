// Explicit actions over the tunnel (issue #13): the handler contract and the
// one place every action request goes through.
//
// Adding a kind takes a handler and a permission-catalogue entry, nothing
// else: register an ActionKind (its name, the spec.actions switch that
// enables it, a parser that validates the payload and names the target
// objects, and the execute function) with ActionRegistry::Register, and add
// the RBAC rules the kind needs to controller/permissions.cc. Everything else
// is shared and done here, in this order, for every request:
//   1. unknown kind -> `unsupported`; a request id seen in the last 15
//      minutes -> the stored result (or, while it still runs, the same
//      result when it finishes): never a second execution;
//   2. switch off -> `forbidden`; payload refused by the parser -> `invalid`;
//   3. authorization of every target namespace: kube-system, kube-public,
//      kube-node-lease and the agent's own namespace are always refused, and
//      with a non-empty spec.actions.namespaces only those are allowed ->
//      `forbidden`. Nothing has called the Kubernetes API yet;
//   4. per-object serialisation: two requests on the same object run one
//      after the other (waiting counts against the request's timeout);
//   5. execution with a deadline (request timeoutMs, default 30 s, capped at
//      10 min) and a cancellation token, cancelled when the tunnel
//      connection the request came on drops (CancelRunning) or the registry
//      is destroyed (the tunnel of this leadership ended);
//   6. audit: one structured log line per request, allowed or refused; for
//      executed ones a Kubernetes Event (reason SRExpertAction) on each
//      target with the action, the requestedBy identity and the outcome. An
//      ok response payload is {"result": <handler payload>, "audit": {...}}.
// Handlers must not log tokens or Secret content, and report failures as
// ActionResult::Fail with a code from docs/protocol.md.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "kube/call_bounds.h"
#include "kube/error.h"
#include "protocol/messages.h"

namespace srexpert::kube {
class RestClient;
}

namespace srexpert::actions {

// Response error codes (docs/protocol.md, "Error codes in responses").
namespace codes {
inline constexpr const char* kInvalid = "invalid";
inline constexpr const char* kForbidden = "forbidden";
inline constexpr const char* kConflict = "conflict";
inline constexpr const char* kNotFound = "not_found";
inline constexpr const char* kTimeout = "timeout";
inline constexpr const char* kCancelled = "cancelled";
inline constexpr const char* kInternal = "internal";
inline constexpr const char* kUnsupported = "unsupported";
}  // namespace codes

// An object an action touches, as the payload names it. `ns` is empty for
// cluster-scoped kinds (Node).
struct Target {
  std::string api_version;  // "apps/v1", "v1"
  std::string kind;         // "Deployment", "Node"
  std::string ns;
  std::string name;
  std::string Key() const { return api_version + "/" + kind + "/" + ns + "/" + name; }
  // "Deployment shop/web" ("Node n1" when cluster-scoped), for messages.
  std::string Describe() const { return kind + " " + (ns.empty() ? name : ns + "/" + name); }
};

// Outcome of a handler: ok with a JSON object payload, or an error.
struct ActionResult {
  bool ok = true;
  std::string payload = "{}";  // JSON object text, only with ok
  std::string code;             // codes::*, only with !ok
  std::string message;
  static ActionResult Ok(std::string payload_json) { return {true, std::move(payload_json), "", ""}; }
  static ActionResult Fail(std::string code, std::string message) {
    return {false, "{}", std::move(code), std::move(message)};
  }
};

// Cooperative cancellation and deadline for one execution.
class CancelToken {
 public:
  CancelToken(kube::Cancellation stop, std::chrono::steady_clock::time_point deadline)
      : stop_(std::move(stop)), deadline_(deadline) {}
  bool Cancelled() const { return stop_.cancelled(); }
  bool Expired() const { return std::chrono::steady_clock::now() >= deadline_; }
  // True when the handler must stop now (cancelled or past the deadline).
  bool Stop() const { return Cancelled() || Expired(); }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }
  // The same limits for a Kubernetes API call, on the client's clock: every
  // handler passes them to each call (a throttling API server then cannot
  // hold the action past its deadline, and the tunnel's end aborts a call
  // in flight).
  kube::CallBounds Bounds(const Clock& api_clock) const;

 private:
  kube::Cancellation stop_;
  std::chrono::steady_clock::time_point deadline_;
};

// An API error as an action failure: the code from docs/protocol.md and a
// message that starts with `what` (e.g. "Deployment shop/web"). A 429 still
// refused when the deadline came, and the deadline itself, are `timeout`.
ActionResult FromKubeError(const kube::Error& e, const std::string& what);

struct ActionRequest {
  std::string id;
  std::string kind;
  std::chrono::milliseconds timeout{0};  // effective (defaulted and capped)
  std::string requested_by;              // payload "requestedBy"; "unknown" if absent
  // Where Progress() goes (the tunnel's `progress` message); may be empty.
  std::function<void(std::string)> progress;
  // Reports how a long action is getting on (a JSON object), before its
  // result. Advisory: dropped when the backend does not take reports. Call
  // on changes (a pod evicted), not in polling loops.
  void Progress(std::string payload_json) const {
    if (progress) progress(std::move(payload_json));
  }
};

// What a parser hands back for a valid payload: the targets (authorized and
// serialised by the registry) and the work itself.
struct PreparedAction {
  std::vector<Target> targets;
  std::function<ActionResult(const ActionRequest&, const CancelToken&)> execute;
};

// Either a prepared action or the `invalid` message.
using ParseOutcome = std::variant<PreparedAction, std::string>;

struct ActionKind {
  std::string name;         // wire kind, e.g. "workload.scale"
  std::string switch_name;  // spec.actions switch, e.g. "scale"
  // Validates `payload` (a JSON object; "requestedBy" is the registry's and
  // must be accepted) and prepares the action. Must not call the API.
  std::function<ParseOutcome(const json::Value& payload)> parse;
};

// The spec.actions settings the registry enforces.
struct ActionPolicy {
  std::map<std::string, bool> switches;  // switch name -> enabled
  std::vector<std::string> namespaces;   // allow-list; empty = every non-system namespace
  std::string agent_namespace;           // always refused
  std::chrono::milliseconds default_timeout{30000};
  std::chrono::milliseconds max_timeout{600000};
  std::chrono::minutes idempotency_window{15};
};

// True for namespaces no action may touch whatever the allow-list says.
bool IsProtectedNamespace(std::string_view ns, std::string_view agent_namespace);

class ActionRegistry {
 public:
  // `client` (may be null in tests that need no Events) records the audit
  // Events.
  ActionRegistry(ActionPolicy policy, std::shared_ptr<kube::RestClient> client);
  ~ActionRegistry();  // cancels running actions and waits for them
  ActionRegistry(const ActionRegistry&) = delete;
  ActionRegistry& operator=(const ActionRegistry&) = delete;

  void Register(ActionKind kind);
  std::vector<std::string> Kinds() const;

  // Answers `request` exactly once through `reply`, from another thread
  // when the action executes (never blocks the caller on the API).
  // `progress` (may be empty) carries the handler's ActionRequest::Progress
  // reports.
  void Handle(const protocol::Request& request,
              std::function<void(protocol::Response)> reply,
              std::function<void(std::string)> progress = {});

  // The tunnel connection dropped: cancels the actions running or waiting
  // (Helm is told to stop, API calls in flight are abandoned) and keeps
  // their outcome, `cancelled` with how far they got, in the idempotency
  // store, where the backend retrying the same id after the reconnect finds
  // it. Requests after the call run normally. Never blocks (called on the
  // tunnel's thread).
  void CancelRunning();

  // Executions started so far (tests: a retried id must not add one).
  uint64_t executions() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace srexpert::actions
