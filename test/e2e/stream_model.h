// The state stream's model, shared by stream_e2e_test and soak_bench: a
// random workload of creates, updates and deletes against the API server
// (a model of which objects exist keeps every operation valid), the view
// the hub must hold (every collected object, projected, outside the
// excluded namespace), the view it does hold (its REST API) and their
// difference. No test framework: a failed API call throws
// std::runtime_error; Diff returns lines.
#pragma once

#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/json.h"
#include "kube/rest_client.h"
#include "stream/projection.h"
#include "test/net/test_support.h"

namespace srexpert::testing::e2e {

// Where the workload writes; the agents' config excludes kStreamExcluded.
inline constexpr const char* kStreamNamespaces[] = {"team-a", "team-b", "team-c"};
inline constexpr const char* kStreamExcluded = "excluded-ns";

// "kind/namespace/name" → projected object (compact JSON text).
using View = std::map<std::string, std::string>;

inline std::string ViewKey(const std::string& kind, const std::string& ns,
                           const std::string& name) {
  return kind + "/" + ns + "/" + name;
}

// Creates the workload's namespaces (and the excluded one).
inline void CreateStreamNamespaces(kube::RestClient& client) {
  std::vector<std::string> names(std::begin(kStreamNamespaces), std::end(kStreamNamespaces));
  names.push_back(kStreamExcluded);
  for (const auto& ns : names) {
    auto doc = json::Parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns +
                           R"("}})");
    auto r = client.Create(*doc);
    if (!r.ok()) throw std::runtime_error("create namespace " + ns + ": " + r.error().ToString());
  }
}

// What the hub must hold: every collected object of the API server,
// projected, outside the excluded namespace. Throws when a served kind
// cannot be listed (a partial expectation would hide lost objects).
inline View ExpectedView(kube::RestClient& client) {
  View view;
  for (const auto& k : stream::CollectedKinds()) {
    auto list = client.ListAll({k.api_version, k.kind, "", ""});
    if (!list.ok()) {
      if (list.error().reason() == kube::Reason::kNotFound) continue;  // kind not served
      throw std::runtime_error("list " + k.kind + ": " + list.error().ToString());
    }
    for (const auto& item : (*list)["items"].GetArray()) {
      std::string ns = json::GetString(item, {"metadata", "namespace"});
      std::string name = json::GetString(item, {"metadata", "name"});
      if (ns == kStreamExcluded || (k.kind == "Namespace" && name == kStreamExcluded)) continue;
      auto projected = stream::Project(k.kind, item);
      if (projected) view[ViewKey(k.kind, ns, name)] = *projected;
    }
  }
  return view;
}

struct HubView {
  bool ok = false;  // the hub answered with a resource list
  View objects;
  std::vector<std::string> duplicates;  // keys served more than once
};

// GET /api/v1/clusters/<cluster>/resources on the hub's REST API.
inline HubView ReadHubView(uint16_t api_port, const std::string& cluster) {
  HubView v;
  auto r = HttpCall(api_port, "GET", "/api/v1/clusters/" + cluster + "/resources");
  if (r.status != 200) return v;
  auto doc = json::Parse(r.body);
  if (!doc || !json::Find(*doc, {"items"})) return v;
  for (const auto& item : (*doc)["items"].GetArray()) {
    std::string key = ViewKey(json::GetString(item, {"kind"}), json::GetString(item, {"namespace"}),
                              json::GetString(item, {"name"}));
    const json::Value* object = json::Find(item, {"object"});
    if (!object) continue;
    if (v.objects.count(key)) v.duplicates.push_back(key);
    v.objects[key] = json::Dump(*object);
  }
  v.ok = true;
  return v;
}

// Differences as lines ("missing K", "differs K ...", "extra K"); empty
// when equal (objects compared structurally).
inline std::vector<std::string> Diff(const View& expected, const View& actual) {
  std::vector<std::string> out;
  for (const auto& [key, want] : expected) {
    auto it = actual.find(key);
    if (it == actual.end()) {
      out.push_back("missing " + key);
      continue;
    }
    auto a = json::Parse(want), b = json::Parse(it->second);
    if (!a || !b || !json::Equal(*a, *b)) {
      out.push_back("differs " + key + "\n  want " + want + "\n  have " + it->second);
    }
  }
  for (const auto& [key, have] : actual) {
    if (!expected.count(key)) out.push_back("extra " + key);
  }
  return out;
}

// The random workload over ConfigMaps, Services, Pods (with status writes
// through the status subresource, as the kubelet's) and Secrets (never
// collected), in the workload's namespaces and the excluded one. At most
// `max_live` objects exist at once: at the cap a create becomes a delete, so
// a long run keeps a steady population. Not thread-safe.
class Workload {
 public:
  Workload(std::shared_ptr<kube::RestClient> client, uint32_t seed,
           size_t max_live = std::numeric_limits<size_t>::max())
      : client_(std::move(client)), rng_(seed), max_live_(max_live) {}

  // One create (40 %), update (40 %) or delete (20 %); throws
  // std::runtime_error when the API server refuses.
  void Step() {
    std::uniform_int_distribution<int> pick(0, 99);
    int p = pick(rng_);
    if (live_.empty() || (p < 40 && live_.size() < max_live_)) {
      Create();
    } else if (p < 80) {
      Update();
    } else {
      Delete();
    }
  }

  int operations() const { return operations_; }
  size_t live() const { return live_.size(); }

 private:
  struct Obj {
    std::string kind, ns, name;
  };

  static void Expect(bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error(what);
  }

  std::string Ns() {
    std::uniform_int_distribution<size_t> d(0, std::size(kStreamNamespaces));
    size_t i = d(rng_);
    return i == std::size(kStreamNamespaces) ? kStreamExcluded : kStreamNamespaces[i];
  }

  void Create() {
    std::uniform_int_distribution<int> kind(0, 3);
    std::string ns = Ns();
    std::string name = "obj-" + std::to_string(++counter_);
    std::string body;
    std::string k;
    switch (kind(rng_)) {
      case 0:
        k = "ConfigMap";
        body = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
               R"(","namespace":")" + ns + R"(","labels":{"gen":"0"}},"data":{"password":"hunter2"}})";
        break;
      case 1:
        k = "Service";
        body = R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name +
               R"(","namespace":")" + ns +
               R"(","labels":{"gen":"0"}},"spec":{"selector":{"app":")" + name +
               R"("},"ports":[{"port":80,"targetPort":8080}]}})";
        break;
      case 2:
        k = "Pod";
        body = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
               R"(","namespace":")" + ns +
               R"(","labels":{"gen":"0"}},"spec":{"containers":[{"name":"app","image":"nginx:1.27",)"
               R"("env":[{"name":"DB_PASSWORD","value":"s3cr3t-literal"}]}]}})";
        break;
      default:
        k = "Secret";  // never collected: must never reach the hub
        body = R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name +
               R"(","namespace":")" + ns + R"("},"stringData":{"token":"do-not-stream"}})";
        break;
    }
    auto doc = json::Parse(body);
    Expect(doc.has_value(), "workload body does not parse: " + body);
    auto r = client_->Create(*doc);
    Expect(r.ok(), "create " + ViewKey(k, ns, name) + ": " +
                       (r.ok() ? std::string() : r.error().ToString()));
    live_.push_back({k, ns, name});
    ++operations_;
  }

  void Update() {
    std::uniform_int_distribution<size_t> d(0, live_.size() - 1);
    const Obj o = live_[d(rng_)];
    const std::string api = "v1";
    std::string patch = R"({"metadata":{"labels":{"gen":")" + std::to_string(++counter_) + R"("}}})";
    auto r = client_->Patch({api, o.kind, o.ns, o.name}, kube::PatchType::kMerge, patch);
    Expect(r.ok(), "patch " + ViewKey(o.kind, o.ns, o.name) + ": " +
                       (r.ok() ? std::string() : r.error().ToString()));
    if (o.kind == "Pod") {
      std::string status = R"({"status":{"phase":"Running","podIP":"10.0.0.)" +
                           std::to_string(counter_ % 250) + R"("}})";
      kube::PatchOptions po;
      po.subresource = "status";
      auto s = client_->Patch({api, o.kind, o.ns, o.name}, kube::PatchType::kMerge, status, po);
      Expect(s.ok(), "patch status " + ViewKey(o.kind, o.ns, o.name) + ": " +
                         (s.ok() ? std::string() : s.error().ToString()));
    }
    ++operations_;
  }

  void Delete() {
    std::uniform_int_distribution<size_t> d(0, live_.size() - 1);
    size_t i = d(rng_);
    Obj o = live_[i];
    live_.erase(live_.begin() + static_cast<long>(i));
    auto r = client_->Delete({"v1", o.kind, o.ns, o.name});
    Expect(r.ok(), "delete " + ViewKey(o.kind, o.ns, o.name) + ": " +
                       (r.ok() ? std::string() : r.error().ToString()));
    ++operations_;
  }

  std::shared_ptr<kube::RestClient> client_;
  std::mt19937 rng_;
  size_t max_live_;
  std::vector<Obj> live_;
  int counter_ = 0;
  int operations_ = 0;
};

}  // namespace srexpert::testing::e2e
