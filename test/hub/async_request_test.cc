// Requests that report progress (docs/protocol.md, `progress`) and the REST
// API's asynchronous requests (docs/hub.md): the hub offers the capability in
// its welcome, hands each report of a pending request to whoever waits for
// it, keeps the newest ones on the request's record, and serves the record
// until, and after, the response.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "common/json.h"
#include "test/hub/api_client.h"
#include "test/hub/hub_fixture.h"

using namespace srexpert;
using namespace srexpert::hub;
using namespace srexpert::hub::testing;
using srexpert::testing::HttpCall;
using srexpert::testing::WaitUntil;

namespace {

using namespace std::chrono_literals;

// Answers each request with `reports` progress messages, then waits for
// Release() before the response, so a test can read the record mid-flight.
class SlowAgent {
 public:
  SlowAgent(HubFixture& f, const std::string& token, int reports)
      : hub_(*f.hub), agent_(f.pki.ca_cert) {
    REQUIRE(agent_.Connect(f.hub->tunnel_port(), token) == 101);
    welcome_ = agent_.Handshake();
    thread_ = std::thread([this, reports] {
      while (auto m = agent_.Read()) {
        auto* r = std::get_if<protocol::Request>(&*m);
        if (!r) continue;
        for (int i = 1; i <= reports; ++i) {
          agent_.Send(protocol::Progress{r->id, R"({"step":)" + std::to_string(i) + "}"});
        }
        // A report for a request nobody sent is dropped, not a violation.
        agent_.Send(protocol::Progress{"no-such-request", "{}"});
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return released_; });
        agent_.Send(protocol::Response{r->id, true, R"({"drained":3})", {}});
      }
    });
  }
  ~SlowAgent() {
    Release();
    hub_.Stop();
    thread_.join();
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  const protocol::Welcome& welcome() const { return welcome_; }

 private:
  Hub& hub_;
  RawAgent agent_;
  protocol::Welcome welcome_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

}  // namespace

TEST_CASE("Hub: the welcome offers progress, and a pending request's reports reach its sender "
          "before the response",
          "[hub][progress]") {
  HubFixture f;
  SlowAgent agent(f, "tok-prod", 3);
  CHECK(agent.welcome().Has(protocol::kCapabilityProgress));

  std::mutex mu;
  std::vector<std::string> reports;
  std::promise<RequestResult> done;
  f.hub->SendRequest(
      "prod", "node.drain", "{}", 10s, [&](RequestResult r) { done.set_value(std::move(r)); },
      [&](std::string report) {
        std::lock_guard lock(mu);
        reports.push_back(std::move(report));
      });
  REQUIRE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return reports.size() == 3;
      },
      10s));
  agent.Release();
  auto result = done.get_future().get();
  REQUIRE(result.status == RequestResult::Status::kOk);
  CHECK(result.response.payload == R"({"drained":3})");
  std::lock_guard lock(mu);
  CHECK(reports == std::vector<std::string>{R"({"step":1})", R"({"step":2})", R"({"step":3})"});
  // The session survived the stray report.
  CHECK(FindCluster(*f.hub, "prod")->connected);
}

TEST_CASE("API: an asynchronous request answers 202 at once, its record shows progress while it "
          "runs and the result after",
          "[hub][api][progress]") {
  HubFixture f([](HubOptions& o) {
    UseUsersFile(o, R"({"users":[
      {"name":"ops","token":"tok-operator-0123456789","role":"operator"},
      {"name":"look","token":"tok-viewer-0123456789","role":"viewer"},
      {"name":"devops","token":"tok-devop-0123456789","role":"operator","clusters":["dev"]}]})");
  });
  SlowAgent agent(f, "tok-prod", 2);
  const uint16_t port = f.hub->api_port();
  const auto op = Bearer("tok-operator-0123456789");

  auto posted = HttpCall(port, "POST", "/api/v1/clusters/prod/requests",
                         R"({"kind":"node.drain","async":true,"payload":{"node":"n1"}})", "", op);
  REQUIRE(posted.status == 202);
  auto accepted = json::Parse(posted.body);
  REQUIRE(accepted);
  const std::string id = json::GetString(*accepted, {"id"});
  REQUIRE(id.size() == 32);
  CHECK(json::GetString(*accepted, {"state"}) == "running");
  const std::string location = json::GetString(*accepted, {"location"});
  CHECK(location == "/api/v1/clusters/prod/requests/" + id);

  // Running: both reports are on the record, no result yet.
  REQUIRE(WaitUntil(
      [&] {
        auto r = GetJson(port, location, op);
        return r && json::GetInt(*r, {"progressTotal"}) == 2;
      },
      10s));
  auto running = GetJson(port, location, op);
  REQUIRE(running);
  CHECK(json::GetString(*running, {"state"}) == "running");
  CHECK(json::GetString(*running, {"kind"}) == "node.drain");
  CHECK(json::GetString(*running, {"requestedBy"}) == "ops");
  REQUIRE((*running)["progress"].Size() == 2);
  CHECK(json::GetInt((*running)["progress"][1], {"step"}) == 2);
  CHECK(json::Find(*running, {"result"}) == nullptr);

  // Who may read it: operators of the cluster; a viewer or another
  // cluster's operator may not, and another cluster's path does not know it.
  int status = 0;
  GetJson(port, location, Bearer("tok-viewer-0123456789"), &status);
  CHECK(status == 403);
  GetJson(port, location, Bearer("tok-devop-0123456789"), &status);
  CHECK(status == 403);
  GetJson(port, location, {}, &status);
  CHECK(status == 401);
  GetJson(port, "/api/v1/clusters/dev/requests/" + id, op, &status);
  CHECK(status == 404);
  GetJson(port, "/api/v1/clusters/prod/requests/" + std::string(32, 'a'), op, &status);
  CHECK(status == 404);
  GetJson(port, location + "/x", op, &status);
  CHECK(status == 404);

  agent.Release();
  REQUIRE(WaitUntil(
      [&] {
        auto r = GetJson(port, location, op);
        return r && json::GetString(*r, {"state"}) == "done";
      },
      10s));
  auto finished = GetJson(port, location, op);
  REQUIRE(finished);
  CHECK(json::GetInt(*finished, {"httpStatus"}) == 200);
  CHECK(json::GetBool(*finished, {"result", "ok"}));
  CHECK(json::GetInt(*finished, {"result", "payload", "drained"}) == 3);

  // Audited once, on completion, like a synchronous request.
  auto audit = GetAudit(port, "prod", 1, op);
  REQUIRE(audit);
  REQUIRE((*audit)["items"].Size() == 1);
  CHECK(json::GetString((*audit)["items"][0], {"outcome"}) == "ok");

  // "async" must be a boolean.
  CHECK(HttpCall(port, "POST", "/api/v1/clusters/prod/requests",
                 R"({"kind":"node.drain","async":"yes"})", "", op)
            .status == 400);
}

TEST_CASE("API: an asynchronous request to a disconnected cluster ends at once with the hub's "
          "reason on its record",
          "[hub][api][progress]") {
  HubFixture f;
  const uint16_t port = f.hub->api_port();
  auto posted =
      HttpCall(port, "POST", "/api/v1/clusters/prod/requests", R"({"kind":"x","async":true})");
  REQUIRE(posted.status == 202);
  auto accepted = json::Parse(posted.body);
  REQUIRE(accepted);
  const std::string location = json::GetString(*accepted, {"location"});
  REQUIRE(WaitUntil(
      [&] {
        auto r = GetJson(port, location);
        return r && json::GetString(*r, {"state"}) == "done";
      },
      10s));
  auto record = GetJson(port, location);
  REQUIRE(record);
  CHECK(json::GetInt(*record, {"httpStatus"}) == 404);
  CHECK(json::GetString(*record, {"result", "error"}).find("not connected") != std::string::npos);
}
