// The hub's REST API with users (issue #14): who may call which route, the
// audit trail of requests, and the refusal to serve an unauthenticated API
// beyond loopback.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "common/json.h"
#include "common/log.h"
#include "hub/api_users.h"
#include "scan/catalogue.h"
#include "test/hub/api_client.h"
#include "test/hub/hub_fixture.h"
#include "test/hub/state_store_fixture.h"

using namespace srexpert;
using namespace srexpert::hub;
using namespace srexpert::hub::testing;
using srexpert::testing::HttpCall;
using srexpert::testing::WriteFile;

namespace {

constexpr const char* kUsers = R"({"users":[
  {"name":"root","token":"tok-operator-0123456789","role":"operator"},
  {"name":"watcher","token":"tok-viewer-0123456789","role":"viewer"},
  {"name":"prod-only","token":"tok-prodop-0123456789","role":"operator","clusters":["prod"]}
]})";

// Answers every request with its own payload until the connection closes.
class EchoAgent {
 public:
  EchoAgent(HubFixture& f, const std::string& token) : hub_(*f.hub), agent_(f.pki.ca_cert) {
    REQUIRE(agent_.Connect(f.hub->tunnel_port(), token) == 101);
    agent_.Handshake();
    thread_ = std::thread([this] {
      while (auto m = agent_.Read()) {
        if (auto* r = std::get_if<protocol::Request>(&*m)) {
          {
            std::lock_guard lock(mu_);
            payloads_.push_back(r->payload);
          }
          agent_.Send(protocol::Response{r->id, true, R"({"echo":)" + r->payload + "}", {}});
        }
      }
    });
  }
  // Stopping the hub closes the session, which ends the reading thread (the
  // socket is never touched from two threads).
  ~EchoAgent() {
    hub_.Stop();
    thread_.join();
  }
  std::vector<std::string> payloads() {
    std::lock_guard lock(mu_);
    return payloads_;
  }

 private:
  Hub& hub_;
  RawAgent agent_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> payloads_;
};

// "<kind> <outcome>" of the cluster's audit records, newest first, once
// there are `count` (GetAudit).
std::vector<std::string> AuditedKinds(uint16_t port, const std::string& cluster, size_t count,
                                      const Headers& headers = {}) {
  auto doc = GetAudit(port, cluster, count, headers);
  REQUIRE(doc);
  std::vector<std::string> out;
  for (const auto& item : (*doc)["items"].GetArray()) {
    out.push_back(json::GetString(item, {"kind"}) + " " + json::GetString(item, {"outcome"}));
  }
  return out;
}

std::vector<std::string> g_log;
std::mutex g_log_mu;
void Capture(std::string_view line) {
  std::lock_guard lock(g_log_mu);
  g_log.emplace_back(line);
}

}  // namespace

TEST_CASE("API users: a file of tokens, roles and clusters, checked on load", "[hub][auth]") {
  TempDir dir;
  WriteFile(dir.File("users.json"), kUsers);
  ApiUserStore store(dir.File("users.json"));
  std::string error;
  REQUIRE(store.Load(&error));
  CHECK(store.size() == 3);
  auto root = store.Authenticate("tok-operator-0123456789");
  REQUIRE(root);
  CHECK(root->name == "root");
  CHECK(root->role == ApiRole::kOperator);
  CHECK(root->MaySee("anything"));
  auto prod = store.Authenticate("tok-prodop-0123456789");
  REQUIRE(prod);
  CHECK(prod->MaySee("prod"));
  CHECK_FALSE(prod->MaySee("dev"));
  CHECK_FALSE(store.Authenticate("tok-operator-012345678"));  // one character short
  CHECK_FALSE(store.Authenticate(""));

  struct Case {
    const char* content;
    const char* message_part;
  };
  const Case cases[] = {
      {"{oops", "invalid JSON"},
      {R"({"users":{}})", "\"users\" must be an array"},
      {R"({"users":[{"name":"a","token":"t","role":"admin"}]})", "role must be \"viewer\" or"},
      {R"({"users":[{"name":"a","token":"t","role":"viewer","cluster":["x"]}]})",
       "unknown member \"cluster\""},
      {R"({"users":[{"name":"a","token":"t","role":"viewer","clusters":[]}]})", "non-empty array"},
      {R"({"users":[{"name":"a","role":"viewer"}]})", "exactly one of token, tokenSha256"},
      {R"({"users":[{"name":"a b","token":"t","role":"viewer"}]})", "printable ASCII"},
      {R"({"users":[{"name":"a","token":"t","role":"viewer"},{"name":"a","token":"u","role":"viewer"}]})",
       "duplicate name \"a\""},
  };
  for (const auto& c : cases) {
    INFO(c.content);
    WriteFile(dir.File("bad.json"), c.content);
    ApiUserStore bad(dir.File("bad.json"));
    CHECK_FALSE(bad.Load(&error));
    CHECK(error.find(c.message_part) != std::string::npos);
    CHECK(error.find("tok-") == std::string::npos);
  }
}

TEST_CASE("API users: the file is re-read when it changes, a broken edit keeps the old users",
          "[hub][auth]") {
  TempDir dir;
  WriteFile(dir.File("users.json"), kUsers);
  ApiUserStore store(dir.File("users.json"));
  std::string error;
  REQUIRE(store.Load(&error));
  REQUIRE(store.Authenticate("tok-viewer-0123456789"));
  // Revoke the viewer, add a new operator (by digest only).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a distinct mtime
  WriteFile(dir.File("users.json"),
            R"({"users":[{"name":"new","role":"operator","tokenSha256":")" +
                [] {
                  std::string hex;
                  for (unsigned char c : Sha256("tok-new-0123456789")) {
                    hex += "0123456789abcdef"[c >> 4];
                    hex += "0123456789abcdef"[c & 15];
                  }
                  return hex;
                }() +
                R"("}]})");
  CHECK_FALSE(store.Authenticate("tok-viewer-0123456789"));
  auto fresh = store.Authenticate("tok-new-0123456789");
  REQUIRE(fresh);
  CHECK(fresh->name == "new");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  WriteFile(dir.File("users.json"), "{ not json");
  CHECK(store.Authenticate("tok-new-0123456789"));
}

TEST_CASE("Bearer tokens are read from the Authorization header", "[hub][auth]") {
  CHECK(BearerToken("Bearer abc") == "abc");
  CHECK(BearerToken("bearer  abc ") == "abc");
  CHECK(BearerToken("Basic abc").empty());
  CHECK(BearerToken("Bearer").empty());
  CHECK(BearerToken("").empty());
}

TEST_CASE("API: every route by caller — no token 401, viewer reads, operator acts, other "
          "clusters 403",
          "[hub][auth][api]") {
  HubFixture f([](HubOptions& o) {
    UseUsersFile(o, kUsers);
    // The smallest message limit, so that an oversized body still fits the
    // client's socket buffer and the 413 can be read back.
    o.max_message_bytes = protocol::kMinMaxMessageBytes;
  });
  EchoAgent prod(f, "tok-prod");
  EchoAgent dev(f, "tok-dev");
  const uint16_t port = f.hub->api_port();
  const std::string request = R"({"kind":"echo","payload":{"namespace":"shop","name":"web"}})";

  struct Route {
    std::string method, target, body;
    bool needs_operator;
    int ok_status = 200;  // what an allowed caller gets
  };
  const std::vector<Route> routes = {
      {"GET", "/api/v1/me", "", false},
      {"GET", "/api/v1/checks", "", false},
      {"GET", "/api/v1/clusters", "", false},
      {"GET", "/api/v1/clusters/dev/resources", "", false},
      {"GET", "/api/v1/clusters/dev/events", "", false},
      {"GET", "/api/v1/clusters/dev/metrics", "", false},
      {"GET", "/api/v1/clusters/dev/audit", "", false},
      // No report yet: allowed callers learn that, refused ones do not.
      {"GET", "/api/v1/clusters/dev/scans/latest", "", false, 404},
      {"GET", "/api/v1/clusters/dev/scans/diff", "", false, 404},
      {"POST", "/api/v1/clusters/dev/requests", request, true},
  };
  for (const auto& r : routes) {
    INFO(r.method << " " << r.target);
    auto none = HttpCall(port, r.method, r.target, r.body);
    CHECK(none.status == 401);
    CHECK(none.www_authenticate == "Bearer realm=\"srexpert-hub\"");
    CHECK(HttpCall(port, r.method, r.target, r.body, "", Bearer("tok-nobody")).status == 401);
    CHECK(HttpCall(port, r.method, r.target, r.body, "", {{"Authorization", "Basic cm9vdA=="}})
              .status == 401);
    auto viewer = HttpCall(port, r.method, r.target, r.body, "", Bearer("tok-viewer-0123456789"));
    CHECK(viewer.status == (r.needs_operator ? 403 : r.ok_status));
    auto op = HttpCall(port, r.method, r.target, r.body, "", Bearer("tok-operator-0123456789"));
    CHECK(op.status == r.ok_status);
    // prod-only may not touch dev (the cluster list is filtered instead).
    auto other = HttpCall(port, r.method, r.target, r.body, "", Bearer("tok-prodop-0123456789"));
    bool cluster_route = r.target.starts_with("/api/v1/clusters/");
    CHECK(other.status == (cluster_route ? 403 : r.ok_status));
    // Answers, refusals included, are neither sniffed nor cached.
    for (const auto* answer : {&none, &viewer, &op, &other}) {
      CHECK(answer->headers.count("x-content-type-options"));
      CHECK(answer->headers.count("cache-control"));
      if (answer->headers.count("cache-control")) {
        CHECK(answer->headers.at("cache-control") == "no-store");
      }
    }
  }
  // /me tells a client (the console) who the token belongs to.
  auto me = GetJson(port, "/api/v1/me", Bearer("tok-prodop-0123456789"));
  REQUIRE(me);
  CHECK(json::GetString(*me, {"name"}) == "prod-only");
  CHECK(json::GetString(*me, {"role"}) == "operator");
  CHECK((*me)["authenticated"].IsTrue());
  REQUIRE((*me)["clusters"].IsArray());
  CHECK(std::string((*me)["clusters"][0].GetString()) == "prod");
  auto viewer_me = GetJson(port, "/api/v1/me", Bearer("tok-viewer-0123456789"));
  REQUIRE(viewer_me);
  CHECK(json::GetString(*viewer_me, {"role"}) == "viewer");
  CHECK((*viewer_me)["clusters"].IsNull());  // every cluster

  // /healthz is for probes: never authenticated.
  CHECK(HttpCall(port, "GET", "/healthz").status == 200);

  auto doc = GetJson(port, "/api/v1/clusters", Bearer("tok-prodop-0123456789"));
  REQUIRE(doc);
  REQUIRE((*doc)["clusters"].Size() == 1);
  CHECK(json::GetString((*doc)["clusters"][0], {"name"}) == "prod");
  auto all = GetJson(port, "/api/v1/clusters", Bearer("tok-viewer-0123456789"));
  REQUIRE(all);
  CHECK((*all)["clusters"].Size() == 2);

  // Bad bodies from an operator: 400 with a reason, nothing sent.
  size_t before = dev.payloads().size();
  CHECK(HttpCall(port, "POST", "/api/v1/clusters/dev/requests", "not json", "",
                 Bearer("tok-operator-0123456789"))
            .status == 400);
  CHECK(HttpCall(port, "POST", "/api/v1/clusters/dev/requests", R"({"payload":[]})", "",
                 Bearer("tok-operator-0123456789"))
            .status == 400);
  // Bigger than one tunnel message: refused before anything is parsed.
  std::string huge = R"({"kind":"echo","payload":{"x":")" +
                     std::string(static_cast<size_t>(f.options.max_message_bytes) + 1, 'a') +
                     "\"}}";
  CHECK(HttpCall(port, "POST", "/api/v1/clusters/dev/requests", huge, "",
                 Bearer("tok-operator-0123456789"))
            .status == 413);
  CHECK(dev.payloads().size() == before);
}

TEST_CASE("API: the authenticated user is the request's requestedBy and every request is "
          "audited",
          "[hub][auth][api]") {
  HubFixture f([](HubOptions& o) { UseUsersFile(o, kUsers); });
  EchoAgent prod(f, "tok-prod");
  const uint16_t port = f.hub->api_port();
  log::SetSink(&Capture);
  auto r = HttpCall(port, "POST", "/api/v1/clusters/prod/requests",
                    R"({"kind":"workload.scale","payload":{"kind":"Deployment","namespace":"shop",
                        "name":"web","replicas":2,"requestedBy":"someone-else"}})",
                    "", Bearer("tok-operator-0123456789"));
  CHECK(r.status == 200);
  // A viewer's attempt is refused and audited too.
  CHECK(HttpCall(port, "POST", "/api/v1/clusters/prod/requests",
                 R"({"kind":"workload.restart","payload":{"namespace":"shop","name":"web"}})", "",
                 Bearer("tok-viewer-0123456789"))
            .status == 403);
  log::SetSink(nullptr);

  auto payloads = prod.payloads();
  REQUIRE(payloads.size() == 1);
  auto sent = json::Parse(payloads[0]);
  REQUIRE(sent);
  CHECK(json::GetString(*sent, {"requestedBy"}) == "root");

  auto doc = GetAudit(port, "prod", 2, Bearer("tok-viewer-0123456789"));
  REQUIRE(doc);
  const auto& items = (*doc)["items"];
  REQUIRE(items.Size() == 2);
  // Newest first.
  CHECK(json::GetString(items[0], {"user"}) == "watcher");
  CHECK(json::GetString(items[0], {"kind"}) == "workload.restart");
  CHECK(json::GetString(items[0], {"outcome"}) == "forbidden");
  CHECK(json::GetString(items[1], {"user"}) == "root");
  CHECK(json::GetString(items[1], {"role"}) == "operator");
  CHECK(json::GetString(items[1], {"cluster"}) == "prod");
  CHECK(json::GetString(items[1], {"kind"}) == "workload.scale");
  CHECK(json::GetString(items[1], {"target", "namespace"}) == "shop");
  CHECK(json::GetString(items[1], {"target", "name"}) == "web");
  CHECK(json::GetString(items[1], {"outcome"}) == "ok");
  CHECK(json::GetString(items[1], {"time"}).size() == 20);
  // The payload itself is not in the audit (it may hold values or manifests).
  CHECK(json::Dump(*doc).find("replicas") == std::string::npos);
  CHECK(HttpCall(port, "GET", "/api/v1/clusters/prod/audit?limit=0", "", "",
                 Bearer("tok-viewer-0123456789"))
            .status == 400);

  // No token in any log line.
  std::lock_guard lock(g_log_mu);
  for (const auto& line : g_log) {
    INFO(line);
    CHECK(line.find("tok-") == std::string::npos);
  }
}

TEST_CASE("API: a request's answer does not wait for its audit record to be stored, and the "
          "records appear in order",
          "[hub][auth][api][audit]") {
  using namespace std::chrono_literals;
  HubFixture f([](HubOptions& o) {
    UseUsersFile(o, kUsers);
    o.state_file = o.tokens_file.substr(0, o.tokens_file.rfind('/')) + "/state.db";
  });
  EchoAgent prod(f, "tok-prod");
  const uint16_t port = f.hub->api_port();
  const auto op = Bearer("tok-operator-0123456789");
  {
    // The store is busy, as on a slow disk: each write waits for it (up to
    // SQLite's 5 s busy timeout).
    SqliteWriteLock busy(f.options.state_file);
    const auto start = std::chrono::steady_clock::now();
    for (std::string kind : {"first", "second", "third"}) {
      CHECK(HttpCall(port, "POST", "/api/v1/clusters/prod/requests",
                     R"({"kind":")" + kind + R"("})", "", op)
                .status == 200);
    }
    // Each answer is sent on the hub's tunnel thread after the request is
    // audited: had the thread written the record, each would take 5 s.
    CHECK(std::chrono::steady_clock::now() - start < 2s);
  }
  CHECK(AuditedKinds(port, "prod", 3, op) ==
        std::vector<std::string>{"third ok", "second ok", "first ok"});
}

TEST_CASE("API: audit records still waiting for the store when the hub stops are stored",
          "[hub][api][audit]") {
  using namespace std::chrono_literals;
  HubFixture f([](HubOptions& o) {
    o.state_file = o.tokens_file.substr(0, o.tokens_file.rfind('/')) + "/state.db";
  });
  {
    auto prod = std::make_unique<EchoAgent>(f, "tok-prod");
    const uint16_t port = f.hub->api_port();
    SqliteWriteLock busy(f.options.state_file);
    for (std::string kind : {"first", "second", "third"}) {
      CHECK(HttpCall(port, "POST", "/api/v1/clusters/prod/requests", R"({"kind":")" + kind + R"("})")
                .status == 200);
    }
    prod.reset();  // stops the hub
    auto release = std::async(std::launch::async, [&] {
      std::this_thread::sleep_for(300ms);
      busy.Release();
    });
    f.hub.reset();  // the records are still queued: stored before this returns
    release.get();
  }
  // Nothing writes to the file any more: what is there was stored in time.
  f.Restart();
  CHECK(AuditedKinds(f.hub->api_port(), "prod", 3) ==
        std::vector<std::string>{"third ok", "second ok", "first ok"});
}

TEST_CASE("API: a viewer reading an asynchronous request's record is told that it needs role "
          "operator and why, a viewer's POST keeps its own message",
          "[hub][auth][api]") {
  HubFixture f([](HubOptions& o) { UseUsersFile(o, kUsers); });
  const uint16_t port = f.hub->api_port();
  const auto viewer = Bearer("tok-viewer-0123456789");
  int status = 0;
  auto record =
      GetJson(port, "/api/v1/clusters/prod/requests/" + std::string(32, 'a'), viewer, &status);
  CHECK(status == 403);
  REQUIRE(record);
  CHECK(json::GetString(*record, {"error"}) ==
        "user \"watcher\" has role viewer; reading an asynchronous request's record (it holds "
        "the request's result) needs role operator");

  auto posted =
      HttpCall(port, "POST", "/api/v1/clusters/prod/requests", R"({"kind":"x"})", "", viewer);
  CHECK(posted.status == 403);
  auto refused = json::Parse(posted.body);
  REQUIRE(refused);
  CHECK(json::GetString(*refused, {"error"}) ==
        "user \"watcher\" has role viewer; sending requests to agents needs role operator");
}

TEST_CASE("API: off loopback the hub refuses to start without users and TLS", "[hub][auth]") {
  TempDir dir;
  TestPki pki{dir.path()};
  WriteFile(dir.File("tokens.json"), R"({"clusters":[{"name":"prod","token":"tok-prod"}]})");
  WriteFile(dir.File("users.json"), kUsers);
  auto attempt = [&](const std::string& users, bool tls) {
    HubOptions o;
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.api_port = 0;
    o.api_bind_address = "0.0.0.0";
    o.tls_cert_file = pki.server_cert;
    o.tls_key_file = pki.server_key;
    o.tokens_file = dir.File("tokens.json");
    o.users_file = users;
    o.api_tls = tls;
    Hub hub(o);
    std::string error;
    bool ok = hub.Start(&error);
    return std::make_pair(ok, error);
  };
  auto [plain_ok, plain_error] = attempt("", false);
  CHECK_FALSE(plain_ok);
  CHECK(plain_error.find("needs a users file (--users-file) and TLS (--api-tls)") !=
        std::string::npos);
  CHECK_FALSE(attempt(dir.File("users.json"), false).first);
  CHECK_FALSE(attempt("", true).first);
  auto [ok, error] = attempt(dir.File("users.json"), true);
  INFO(error);
  CHECK(ok);
}

TEST_CASE("API: /me without a users file is the anonymous operator", "[hub][api]") {
  HubFixture f;
  auto r = HttpCall(f.hub->api_port(), "GET", "/api/v1/me");
  REQUIRE(r.status == 200);
  auto me = json::Parse(r.body);
  REQUIRE(me);
  CHECK(json::GetString(*me, {"name"}) == "anonymous");
  CHECK(json::GetString(*me, {"role"}) == "operator");
  CHECK((*me)["authenticated"].IsFalse());
}

TEST_CASE("API: /checks serves the scan catalogue a finding's id is looked up in", "[hub][api]") {
  HubFixture f;
  auto r = HttpCall(f.hub->api_port(), "GET", "/api/v1/checks");
  REQUIRE(r.status == 200);
  auto doc = json::Parse(r.body);
  REQUIRE(doc);
  const json::Value& checks = (*doc)["checks"];
  REQUIRE(checks.IsArray());
  REQUIRE(checks.Size() == scan::Catalogue().size());
  for (rapidjson::SizeType i = 0; i < checks.Size(); ++i) {
    const scan::CheckInfo& c = scan::Catalogue()[i];
    INFO(c.id);
    CHECK(json::GetString(checks[i], {"id"}) == c.id);
    CHECK(json::GetString(checks[i], {"remediation"}) == c.remediation);
    CHECK(json::GetString(checks[i], {"category"}) == scan::CategoryName(c.category));
    CHECK(json::GetString(checks[i], {"aliases", "polaris"}) == c.aliases.polaris);
  }
}
