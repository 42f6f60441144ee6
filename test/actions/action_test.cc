#include "actions/action.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

using namespace srexpert;
using namespace srexpert::actions;

namespace {

// A kind whose execution counts runs and can be held open by the test.
struct Probe {
  std::atomic<int> runs{0};
  std::mutex mu;
  std::condition_variable cv;
  bool release = true;

  ActionKind Kind(std::string name = "test.touch", std::string sw = "touch") {
    ActionKind k;
    k.name = name;
    k.switch_name = sw;
    k.parse = [this](const json::Value& p) -> ParseOutcome {
      const auto* ns = json::Find(p, {"namespace"});
      if (!ns || !ns->IsString()) return std::string("namespace: required");
      PreparedAction a;
      a.targets = {{"v1", "ConfigMap", ns->GetString(), "x"}};
      a.execute = [this](const ActionRequest&, const CancelToken& c) {
        ++runs;
        std::unique_lock<std::mutex> l(mu);
        while (!release && !c.Stop()) cv.wait_for(l, std::chrono::milliseconds(10));
        if (c.Cancelled()) return ActionResult::Fail(codes::kCancelled, "cancelled");
        if (c.Expired()) return ActionResult::Fail(codes::kTimeout, "deadline");
        return ActionResult::Ok(R"({"done":true})");
      };
      return a;
    };
    return k;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> l(mu);
      release = true;
    }
    cv.notify_all();
  }
};

protocol::Response Call(ActionRegistry& r, const std::string& id, const std::string& payload,
                        int64_t timeout_ms = 0, const std::string& kind = "test.touch") {
  std::promise<protocol::Response> p;
  auto f = p.get_future();
  protocol::Request req{id, kind, timeout_ms, payload};
  r.Handle(req, [&p](protocol::Response resp) { p.set_value(std::move(resp)); });
  REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  return f.get();
}

ActionPolicy Policy(bool on = true) {
  ActionPolicy p;
  p.switches["touch"] = on;
  p.agent_namespace = "srexpert";
  return p;
}

}  // namespace

TEST_CASE("An allowed action runs once and answers with its result and audit record",
          "[actions]") {
  Probe probe;
  ActionRegistry r(Policy(), nullptr);
  r.Register(probe.Kind());
  auto resp = Call(r, "r1", R"({"namespace":"team-a","requestedBy":"alice@example.com"})");
  REQUIRE(resp.ok);
  auto doc = json::Parse(resp.payload);
  REQUIRE(doc);
  CHECK(json::GetBool(*doc, {"result", "done"}) == true);
  CHECK(json::GetString(*doc, {"audit", "requestedBy"}) == "alice@example.com");
  CHECK(json::GetString(*doc, {"audit", "action"}) == "test.touch");
  CHECK(json::GetString(*doc, {"audit", "outcome"}) == "succeeded");
  CHECK(probe.runs == 1);
}

TEST_CASE("A disabled switch refuses with forbidden before parsing", "[actions]") {
  Probe probe;
  ActionRegistry r(Policy(false), nullptr);
  r.Register(probe.Kind());
  auto resp = Call(r, "r1", R"({"namespace":"team-a"})");
  CHECK_FALSE(resp.ok);
  CHECK(resp.error.code == "forbidden");
  CHECK(resp.error.message.find("spec.actions.touch") != std::string::npos);
  CHECK(probe.runs == 0);
}

TEST_CASE("System namespaces and the agent's own are always refused", "[actions]") {
  Probe probe;
  auto policy = Policy();
  policy.namespaces = {"kube-system", "srexpert", "team-a"};  // listing them does not help
  ActionRegistry r(policy, nullptr);
  r.Register(probe.Kind());
  int n = 0;
  for (const char* ns : {"kube-system", "kube-public", "kube-node-lease", "srexpert"}) {
    auto resp = Call(r, "p" + std::to_string(n++), std::string(R"({"namespace":")") + ns + "\"}");
    CHECK_FALSE(resp.ok);
    CHECK(resp.error.code == "forbidden");
  }
  CHECK(probe.runs == 0);
}

TEST_CASE("A namespace outside spec.actions.namespaces is refused", "[actions]") {
  Probe probe;
  auto policy = Policy();
  policy.namespaces = {"team-a"};
  ActionRegistry r(policy, nullptr);
  r.Register(probe.Kind());
  auto refused = Call(r, "r1", R"({"namespace":"team-b"})");
  CHECK_FALSE(refused.ok);
  CHECK(refused.error.code == "forbidden");
  CHECK(Call(r, "r2", R"({"namespace":"team-a"})").ok);
  CHECK(probe.runs == 1);
}

TEST_CASE("Bad payloads are invalid, unknown kinds unsupported", "[actions]") {
  Probe probe;
  ActionRegistry r(Policy(), nullptr);
  r.Register(probe.Kind());
  CHECK(Call(r, "r1", R"({"nope":1})").error.code == "invalid");
  CHECK(Call(r, "r2", R"([1])").error.code == "invalid");
  CHECK(Call(r, "r3", R"({"namespace":"a","requestedBy":7})").error.code == "invalid");
  CHECK(Call(r, "r4", R"({})", 0, "test.other").error.code == "unsupported");
  CHECK(probe.runs == 0);
}

TEST_CASE("A retried request id gets the stored result, never a second execution",
          "[actions]") {
  Probe probe;
  ActionRegistry r(Policy(), nullptr);
  r.Register(probe.Kind());
  auto first = Call(r, "same", R"({"namespace":"team-a"})");
  auto second = Call(r, "same", R"({"namespace":"team-a"})");
  REQUIRE(first.ok);
  CHECK(second.ok);
  CHECK(second.payload == first.payload);
  CHECK(probe.runs == 1);
  CHECK(r.executions() == 1);
}

TEST_CASE("A retry while the first execution runs joins it", "[actions]") {
  Probe probe;
  probe.release = false;
  ActionRegistry r(Policy(), nullptr);
  r.Register(probe.Kind());
  std::promise<protocol::Response> p1, p2;
  protocol::Request req{"join", "test.touch", 0, R"({"namespace":"team-a"})"};
  r.Handle(req, [&](protocol::Response x) { p1.set_value(std::move(x)); });
  while (probe.runs == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  r.Handle(req, [&](protocol::Response x) { p2.set_value(std::move(x)); });
  probe.Release();
  auto a = p1.get_future().get();
  auto b = p2.get_future().get();
  CHECK(a.ok);
  CHECK(b.payload == a.payload);
  CHECK(probe.runs == 1);
}

TEST_CASE("Actions on the same object run one after the other, a wait past the timeout fails",
          "[actions]") {
  Probe probe;
  probe.release = false;
  ActionRegistry r(Policy(), nullptr);
  r.Register(probe.Kind());
  std::promise<protocol::Response> p1;
  r.Handle({"a", "test.touch", 60000, R"({"namespace":"team-a"})"},
           [&](protocol::Response x) { p1.set_value(std::move(x)); });
  while (probe.runs == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Same object, short timeout: it never gets to run.
  auto waited = Call(r, "b", R"({"namespace":"team-a"})", 200);
  CHECK_FALSE(waited.ok);
  CHECK(waited.error.code == "timeout");
  CHECK(probe.runs == 1);
  probe.Release();
  CHECK(p1.get_future().get().ok);
}

TEST_CASE("The request timeout reaches the handler as its deadline", "[actions]") {
  Probe probe;
  probe.release = false;
  ActionRegistry r(Policy(), nullptr);
  r.Register(probe.Kind());
  auto resp = Call(r, "slow", R"({"namespace":"team-a"})", 100);
  CHECK_FALSE(resp.ok);
  CHECK(resp.error.code == "timeout");
}

TEST_CASE("Destroying the registry cancels running actions", "[actions]") {
  Probe probe;
  probe.release = false;
  std::promise<protocol::Response> p;
  {
    ActionRegistry r(Policy(), nullptr);
    r.Register(probe.Kind());
    r.Handle({"c", "test.touch", 60000, R"({"namespace":"team-a"})"},
             [&](protocol::Response x) { p.set_value(std::move(x)); });
    while (probe.runs == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto resp = p.get_future().get();
  CHECK_FALSE(resp.ok);
  CHECK(resp.error.code == "cancelled");
}

TEST_CASE("A dropped tunnel connection cancels running and waiting actions, and their outcome is kept for the retry",
          "[actions]") {
  Probe probe;
  probe.release = false;
  ActionRegistry r(Policy(), nullptr);
  r.Register(probe.Kind());
  std::promise<protocol::Response> running, waiting;
  r.Handle({"run", "test.touch", 60000, R"({"namespace":"team-a"})"},
           [&](protocol::Response x) { running.set_value(std::move(x)); });
  while (probe.runs == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // Same object: waits for the first one.
  r.Handle({"wait", "test.touch", 60000, R"({"namespace":"team-a"})"},
           [&](protocol::Response x) { waiting.set_value(std::move(x)); });

  r.CancelRunning();
  auto first = running.get_future();
  auto second = waiting.get_future();
  REQUIRE(first.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  REQUIRE(second.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(first.get().error.code == "cancelled");
  auto waited = second.get();
  CHECK(waited.error.code == "cancelled");
  CHECK(waited.error.message == "the tunnel session ended");
  CHECK(probe.runs == 1);

  // After the reconnect: the backend's retry of the same id gets the
  // stored outcome, without a second execution...
  auto retried = Call(r, "run", R"({"namespace":"team-a"})");
  CHECK(retried.error.code == "cancelled");
  CHECK(probe.runs == 1);
  // ...and a new request runs on the new connection.
  probe.Release();
  auto fresh = Call(r, "next", R"({"namespace":"team-a"})");
  CHECK(fresh.ok);
  CHECK(probe.runs == 2);
}
