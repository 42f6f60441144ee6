#include "actions/action.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "common/log.h"
#include "common/time_format.h"
#include "kube/rest_client.h"

namespace srexpert::actions {

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::chrono::seconds kEventDeadline{10};

std::string AuditJson(const ActionRequest& req, const std::vector<Target>& targets,
                      const std::string& outcome) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "action", req.kind, a);
  json::SetString(d, "requestId", req.id, a);
  json::SetString(d, "requestedBy", req.requested_by, a);
  json::SetString(d, "outcome", outcome, a);
  rapidjson::Value ts(rapidjson::kArrayType);
  for (const auto& t : targets) {
    rapidjson::Value o(rapidjson::kObjectType);
    json::SetString(o, "apiVersion", t.api_version, a);
    json::SetString(o, "kind", t.kind, a);
    if (!t.ns.empty()) json::SetString(o, "namespace", t.ns, a);
    json::SetString(o, "name", t.name, a);
    ts.PushBack(o, a);
  }
  d.AddMember("targets", ts, a);
  return json::Dump(d);
}

}  // namespace

kube::CallBounds CancelToken::Bounds(const Clock& api_clock) const {
  kube::CallBounds b;
  b.cancel = stop_;
  b.deadline = api_clock.Now() + (deadline_ - std::chrono::steady_clock::now());
  return b;
}

ActionResult FromKubeError(const kube::Error& e, const std::string& what) {
  using kube::Reason;
  switch (e.reason()) {
    case Reason::kNotFound:
      return ActionResult::Fail(codes::kNotFound, what + " not found: " + e.message());
    case Reason::kConflict:
      return ActionResult::Fail(codes::kConflict, what + " changed concurrently: " + e.message());
    case Reason::kInvalid:
    case Reason::kBadRequest:
    case Reason::kRequestEntityTooLarge:
    case Reason::kUnsupportedMediaType:
      return ActionResult::Fail(codes::kInvalid, what + ": " + e.ToString());
    case Reason::kForbidden:
      return ActionResult::Fail(codes::kForbidden, what + ": " + e.message());
    case Reason::kTooManyRequests:
      // The client retries a 429 until the deadline: this one was still
      // refused when no time was left to wait for the server's Retry-After.
      return ActionResult::Fail(codes::kTimeout,
                                what + ": the API server was still throttling requests (429) "
                                       "at the deadline: " + e.message());
    case Reason::kTimeout:
      return ActionResult::Fail(codes::kTimeout, what + ": " + e.message());
    case Reason::kCancelled:
      return ActionResult::Fail(codes::kCancelled, what + ": " + e.message());
    default:
      return ActionResult::Fail(codes::kInternal, what + ": " + e.ToString());
  }
}

bool IsProtectedNamespace(std::string_view ns, std::string_view agent_namespace) {
  return ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease" ||
         (!agent_namespace.empty() && ns == agent_namespace);
}

struct ActionRegistry::Impl : std::enable_shared_from_this<Impl> {
  struct Entry {
    bool done = false;
    protocol::Response response;
    std::vector<std::function<void(protocol::Response)>> waiters;
    SteadyClock::time_point done_at;
  };

  ActionPolicy policy;
  std::shared_ptr<kube::RestClient> client;
  mutable std::mutex mu;
  std::condition_variable cv;  // busy set shrank / a worker ended
  std::map<std::string, ActionKind> kinds;
  std::map<std::string, Entry> entries;  // request id -> state
  std::set<std::string> busy;             // Target::Key of running actions
  // Execution threads; `done` set as a thread's last step so that Handle
  // can join finished ones and a long leadership does not pile them up.
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers;
  // Cancelled when the registry goes (the tunnel of this leadership ended):
  // running actions stop and their API calls in flight are abandoned.
  kube::Cancellation stop;
  // The current tunnel connection's: CancelRunning() cancels it (the
  // connection dropped) and starts a new one for the requests that come
  // after the reconnect. A child of `stop`. Guarded by mu.
  kube::Cancellation session = stop.Child();
  uint64_t executions = 0;

  void Prune(SteadyClock::time_point now) {
    for (auto it = entries.begin(); it != entries.end();) {
      if (it->second.done && now - it->second.done_at > policy.idempotency_window) {
        it = entries.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Stores the result for `id` and answers everyone waiting for it.
  void Finish(const std::string& id, protocol::Response response) {
    std::vector<std::function<void(protocol::Response)>> waiters;
    {
      std::lock_guard<std::mutex> l(mu);
      auto& e = entries[id];
      e.done = true;
      e.response = response;
      e.done_at = SteadyClock::now();
      waiters.swap(e.waiters);
    }
    for (auto& w : waiters) w(response);
  }

  void Refuse(const ActionRequest& req, const std::vector<Target>& targets, const std::string& code,
              const std::string& message) {
    log::Info("action refused", {{"requestId", req.id},
                                 {"action", req.kind},
                                 {"requestedBy", req.requested_by},
                                 {"code", code},
                                 {"reason", message},
                                 {"targets", AuditJson(req, targets, code)}});
    Finish(req.id, protocol::ErrorResponse(req.id, code, message));
  }

  void RecordEvent(const ActionRequest& req, const Target& t, const std::string& outcome,
                   bool ok) {
    if (!client) return;
    std::string ns = t.ns.empty() ? "default" : t.ns;
    json::Document ev(rapidjson::kObjectType);
    auto& a = ev.GetAllocator();
    json::SetString(ev, "apiVersion", "v1", a);
    json::SetString(ev, "kind", "Event", a);
    auto& meta = json::EnsureObject(ev, {"metadata"}, a);
    json::SetString(meta, "generateName", t.name + ".srexpert-", a);
    json::SetString(meta, "namespace", ns, a);
    auto& io = json::EnsureObject(ev, {"involvedObject"}, a);
    json::SetString(io, "apiVersion", t.api_version, a);
    json::SetString(io, "kind", t.kind, a);
    if (!t.ns.empty()) json::SetString(io, "namespace", t.ns, a);
    json::SetString(io, "name", t.name, a);
    json::SetString(ev, "reason", "SRExpertAction", a);
    json::SetString(ev, "type", ok ? "Normal" : "Warning", a);
    std::string message = "action " + req.kind + " requested by " + req.requested_by +
                          " (request " + req.id + "): " + outcome;
    if (message.size() > 1024) message.resize(1024);
    json::SetString(ev, "message", message, a);
    auto now = FormatRfc3339(std::chrono::system_clock::now());
    json::SetString(ev, "firstTimestamp", now, a);
    json::SetString(ev, "lastTimestamp", now, a);
    ev.AddMember("count", 1, a);
    auto& src = json::EnsureObject(ev, {"source"}, a);
    json::SetString(src, "component", "srexpert-agent", a);
    // Recorded even when the action was cancelled or timed out, but a
    // throttling server may not hold the response for long.
    kube::WriteOptions write;
    write.bounds.deadline = client->clock().Now() + kEventDeadline;
    auto r = client->Create(ev, write);
    if (!r) {
      // The action happened; a missing Event must not turn it into a failure,
      // but it is an audit gap, so it is logged loudly.
      log::Warn("action audit event not recorded",
                {{"requestId", req.id}, {"action", req.kind}, {"error", r.error().ToString()}});
    }
  }

  // `session`: the connection the request came on (cancelled when it drops).
  void Execute(ActionRequest req, PreparedAction prepared, kube::Cancellation session) {
    auto deadline = SteadyClock::now() + req.timeout;
    std::vector<std::string> keys;
    for (const auto& t : prepared.targets) keys.push_back(t.Key());
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    {
      // Per-object serialisation: wait until no running action holds any of
      // our targets, then hold them all.
      std::unique_lock<std::mutex> l(mu);
      auto free = [&] {
        return session.cancelled() || std::none_of(keys.begin(), keys.end(), [&](const auto& k) {
                 return busy.count(k) > 0;
               });
      };
      if (!cv.wait_until(l, deadline, free)) {
        l.unlock();
        Refuse(req, prepared.targets, codes::kTimeout,
               "timed out waiting for another action on the same object");
        return;
      }
      if (session.cancelled()) {
        l.unlock();
        Refuse(req, prepared.targets, codes::kCancelled, "the tunnel session ended");
        return;
      }
      for (const auto& k : keys) busy.insert(k);
      ++executions;
    }
    CancelToken token(session, deadline);
    ActionResult result;
    try {
      result = prepared.execute(req, token);
    } catch (const std::exception& e) {
      result = ActionResult::Fail(codes::kInternal, e.what());
    }
    {
      std::lock_guard<std::mutex> l(mu);
      for (const auto& k : keys) busy.erase(k);
    }
    cv.notify_all();
    std::string outcome = result.ok ? "succeeded" : result.code + ": " + result.message;
    for (const auto& t : prepared.targets) RecordEvent(req, t, outcome, result.ok);
    log::Info("action executed", {{"requestId", req.id},
                                  {"action", req.kind},
                                  {"requestedBy", req.requested_by},
                                  {"ok", result.ok},
                                  {"code", result.code},
                                  {"targets", AuditJson(req, prepared.targets, outcome)}});
    protocol::Response response;
    response.id = req.id;
    if (result.ok) {
      response.payload = "{\"result\":" + result.payload +
                         ",\"audit\":" + AuditJson(req, prepared.targets, outcome) + "}";
    } else {
      response = protocol::ErrorResponse(req.id, result.code, result.message);
    }
    Finish(req.id, std::move(response));
  }
};

ActionRegistry::ActionRegistry(ActionPolicy policy, std::shared_ptr<kube::RestClient> client)
    : impl_(std::make_shared<Impl>()) {
  impl_->policy = std::move(policy);
  impl_->client = std::move(client);
}

void ActionRegistry::CancelRunning() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->session.Cancel();
    impl_->session = impl_->stop.Child();
  }
  // Actions waiting for another on the same object give up too.
  impl_->cv.notify_all();
}

ActionRegistry::~ActionRegistry() {
  impl_->stop.Cancel();
  {
    // Under the lock: a worker between its wait predicate and the wait
    // itself must not miss the wake-up.
    std::lock_guard<std::mutex> l(impl_->mu);
  }
  impl_->cv.notify_all();
  std::vector<Impl::Worker> workers;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    workers.swap(impl_->workers);
  }
  for (auto& w : workers) w.thread.join();
}

void ActionRegistry::Register(ActionKind kind) {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::string name = kind.name;
  impl_->kinds[name] = std::move(kind);
}

std::vector<std::string> ActionRegistry::Kinds() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [k, _] : impl_->kinds) out.push_back(k);
  return out;
}

uint64_t ActionRegistry::executions() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->executions;
}

void ActionRegistry::Handle(const protocol::Request& request,
                            std::function<void(protocol::Response)> reply,
                            std::function<void(std::string)> progress) {
  auto& im = *impl_;
  ActionRequest req;
  req.id = request.id;
  req.kind = request.kind;
  req.progress = std::move(progress);
  req.requested_by = "unknown";
  ActionKind kind;
  {
    std::unique_lock<std::mutex> l(im.mu);
    im.Prune(SteadyClock::now());
    auto known = im.entries.find(request.id);
    if (known != im.entries.end()) {
      // A retry (e.g. after a reconnect): the stored result, or the running
      // execution's result when it ends.
      if (known->second.done) {
        auto response = known->second.response;
        l.unlock();
        reply(std::move(response));
      } else {
        known->second.waiters.push_back(std::move(reply));
      }
      return;
    }
    auto k = im.kinds.find(request.kind);
    if (k == im.kinds.end()) {
      l.unlock();
      reply(protocol::ErrorResponse(request.id, codes::kUnsupported,
                                    "unknown request kind \"" + request.kind + "\""));
      return;
    }
    kind = k->second;
    im.entries[request.id].waiters.push_back(std::move(reply));
  }

  std::string err;
  auto payload = json::Parse(request.payload, &err);
  if (payload && payload->IsObject()) {
    if (const auto* by = json::Find(*payload, {"requestedBy"})) {
      if (by->IsString() && by->GetStringLength() > 0 && by->GetStringLength() <= 256) {
        req.requested_by = by->GetString();
      } else {
        im.Refuse(req, {}, codes::kInvalid, "requestedBy: must be a string of 1..256 bytes");
        return;
      }
    }
  }
  int64_t timeout_ms = request.timeout_ms > 0 ? request.timeout_ms
                                              : im.policy.default_timeout.count();
  req.timeout = std::min(std::chrono::milliseconds(timeout_ms), im.policy.max_timeout);

  auto sw = im.policy.switches.find(kind.switch_name);
  if (sw == im.policy.switches.end() || !sw->second) {
    im.Refuse(req, {}, codes::kForbidden,
              "action " + req.kind + " is disabled (spec.actions." + kind.switch_name + ")");
    return;
  }
  if (!payload || !payload->IsObject()) {
    im.Refuse(req, {}, codes::kInvalid, "payload must be a JSON object");
    return;
  }
  auto parsed = kind.parse(*payload);
  if (auto* message = std::get_if<std::string>(&parsed)) {
    im.Refuse(req, {}, codes::kInvalid, *message);
    return;
  }
  auto prepared = std::get<PreparedAction>(std::move(parsed));
  for (const auto& t : prepared.targets) {
    if (t.ns.empty()) continue;  // cluster-scoped: the switch alone governs it
    if (IsProtectedNamespace(t.ns, im.policy.agent_namespace)) {
      im.Refuse(req, prepared.targets, codes::kForbidden,
                "namespace " + t.ns + " is protected: actions never touch it");
      return;
    }
    const auto& allow = im.policy.namespaces;
    if (!allow.empty() && std::find(allow.begin(), allow.end(), t.ns) == allow.end()) {
      im.Refuse(req, prepared.targets, codes::kForbidden,
                "namespace " + t.ns + " is not in spec.actions.namespaces");
      return;
    }
  }
  {
    std::lock_guard<std::mutex> l(im.mu);
    if (!im.stop.cancelled()) {
      for (auto it = im.workers.begin(); it != im.workers.end();) {
        if (it->done->load()) {
          it->thread.join();  // already past its last statement
          it = im.workers.erase(it);
        } else {
          ++it;
        }
      }
      auto done = std::make_shared<std::atomic<bool>>(false);
      im.workers.push_back(
          {std::thread([self = impl_->shared_from_this(), req, p = std::move(prepared),
                        session = im.session, done]() mutable {
             self->Execute(std::move(req), std::move(p), std::move(session));
             done->store(true);
           }),
           done});
      return;
    }
  }
  im.Refuse(req, prepared.targets, codes::kCancelled, "the tunnel session ended");
}

}  // namespace srexpert::actions
