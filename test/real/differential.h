// The differential suite: every scenario runs against the real
// kube-apiserver of the real-cluster fixture and against the loopback test
// server (test/apiserver), each in a fresh namespace, and what the two
// answered must be equal. A scenario returns an *observation*: status codes,
// Status reasons/messages/details and chosen object fields, with what the
// server picks freely (uids, timestamps, concrete resourceVersions, continue
// tokens) replaced by placeholders. Relationships survive normalization:
// resourceVersions become labels in order of first appearance ("rv#1",
// "rv#2", ...), so "unchanged" is the same label and "changed" a new one.
//
// A difference fails the scenario unless docs/testing.md lists its id under
// "Differences from kube-apiserver"; a listed scenario whose observations
// have become equal fails too, so that list stays true. SRX_DIFF_PRINT=1
// prints both observations of every scenario, equal or not.
//
// Scenarios speak raw HTTP rather than through kube::RestClient: the Status
// bodies (details.kind, causes) are what is compared, and kube::Error keeps
// only part of them.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/json.h"
#include "kube/cancellation.h"
#include "kube/config.h"
#include "kube/http_transport.h"

namespace srexpert::testing::diff {

struct Response {
  int code = 0;
  json::Document body;  // null document when the body is not JSON
  std::string text;
};

// One server as a scenario sees it: raw HTTP (the Status bodies are part of
// what is compared, so kube::RestClient's typed errors would lose too much),
// the scenario's namespace and the normalization state.
class Api {
 public:
  Api(std::string server_name, kube::RestConfig config, std::string ns);
  ~Api();

  const std::string& server_name() const { return server_name_; }
  const std::string& ns() const { return ns_; }

  Response Call(const std::string& method, const std::string& path, const std::string& body = "",
                const std::string& content_type = "application/json");
  Response Get(const std::string& path) { return Call("GET", path); }
  Response Post(const std::string& path, const std::string& body) {
    return Call("POST", path, body);
  }
  Response Put(const std::string& path, const std::string& body) { return Call("PUT", path, body); }
  Response Patch(const std::string& path, const std::string& body,
                 const std::string& content_type) {
    return Call("PATCH", path, body, content_type);
  }
  Response Delete(const std::string& path, const std::string& body = "") {
    return Call("DELETE", path, body);
  }

  // Collection (or object, with `name`) paths in the scenario's namespace:
  // Path("v1", "configmaps") = /api/v1/namespaces/<ns>/configmaps,
  // Path("apps/v1", "deployments", "d") = /apis/apps/v1/namespaces/<ns>/deployments/d.
  std::string Path(const std::string& api_version, const std::string& resource,
                   const std::string& name = "") const;

  class Watch {
   public:
    // The next event; nullopt when the stream ended or nothing came within
    // `idle`.
    std::optional<json::Document> Next(std::chrono::milliseconds idle);
    bool ended() const { return ended_; }

   private:
    friend class Api;
    kube::Cancellation cancel_;
    std::unique_ptr<kube::ResponseStream> stream_;
    bool ended_ = false;
  };
  // GET `path` (with ?watch=1... already in it). Fails the test when the
  // server refuses the watch.
  std::unique_ptr<Watch> OpenWatch(const std::string& path);

  // Normalization (see the file comment). Norm copies `v` with metadata.uid,
  // ownerReferences[].uid and Status details.uid as uid labels,
  // metadata.resourceVersion as rv labels, creationTimestamp,
  // deletionTimestamp, managedFields[].time and lastTransitionTime as
  // "<time>" (a null stays null: pod templates carry creationTimestamp:
  // null), list metadata's resourceVersion as "<list-rv>" (global on a real
  // cluster, where controllers write all the time), continue tokens as
  // "<continue>", and the namespace name inside any string as "$NS".
  json::Document Norm(const json::Value& v);
  std::string RvLabel(const std::string& rv);
  std::string UidLabel(const std::string& uid);
  // The namespace as "$NS", uids inside the text as their labels, numbers
  // the server chose inside known messages as placeholders or labels.
  std::string NormString(const std::string& s);

  // Deleted (best effort, not observed) after the scenario: cluster-scoped
  // objects a scenario creates.
  void DeleteAfterwards(const std::string& path) { cleanup_.push_back(path); }
  void RunCleanup();

 private:
  std::string server_name_;
  kube::RestConfig config_;
  std::string ns_;
  std::unique_ptr<kube::HttpTransport> http_;
  std::map<std::string, std::string> rv_labels_;
  std::map<std::string, std::string> uid_labels_;
  std::vector<std::string> cleanup_;
};

// What a scenario returns: named steps in order, each a JSON value.
class Observation {
 public:
  Observation() : doc_(rapidjson::kObjectType) {}
  void Set(const std::string& step, const json::Value& value);
  void Set(const std::string& step, const std::string& value);
  void Set(const std::string& step, const char* value) { Set(step, std::string(value)); }
  void Set(const std::string& step, int64_t value);
  void Set(const std::string& step, bool value);
  const json::Document& doc() const { return doc_; }

 private:
  json::Document doc_;
};

// {code, status, reason, message, details{name, group, kind, causes[{reason,
// field, message}]}} of a Status (error or success) response, normalized.
json::Document StatusOf(Api& api, const Response& r);
// {code, <path>: value, ...} of an object response, normalized; paths are
// dotted ("spec.template.spec.dnsPolicy"), "<absent>" for missing members.
// An error response yields StatusOf instead, so an unexpected failure shows
// up in the observation rather than as "<absent>" fields.
json::Document Fields(Api& api, const Response& r, const std::vector<std::string>& paths);
// The value at a dotted path of `v`, normalized, or "<absent>".
json::Document At(Api& api, const json::Value& v, const std::string& path);
// Parses a JSON literal of the scenario text (fails the test when invalid).
json::Document Json(const std::string& text);

// Polls `pred` (generously: the real controllers act within seconds, and
// these are correctness tests, not timing tests).
bool Eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));

using ScenarioFn = Observation (*)(Api&);

// Registers a scenario id (for the gap table's consistency check).
bool RegisterScenarioId(const std::string& id);
const std::set<std::string>& ScenarioIds();
// The ids listed in docs/testing.md's "Differences from kube-apiserver".
std::map<std::string, std::string> KnownGaps();
// Runs `fn` on both servers and checks the observations (see file comment).
void RunDifferential(const std::string& id, ScenarioFn fn);

}  // namespace srexpert::testing::diff

#define SRX_DIFF_CAT2(a, b) a##b
#define SRX_DIFF_CAT(a, b) SRX_DIFF_CAT2(a, b)
#define SRX_DIFF_SCENARIO_IMPL(ID, TITLE, FN)                                             \
  static ::srexpert::testing::diff::Observation FN(::srexpert::testing::diff::Api& api); \
  [[maybe_unused]] static const bool SRX_DIFF_CAT(FN, _registered) =                     \
      ::srexpert::testing::diff::RegisterScenarioId(ID);                                 \
  TEST_CASE("differential " ID ": " TITLE, "[real][differential]") {                     \
    ::srexpert::testing::diff::RunDifferential(ID, &FN);                                 \
  }                                                                                      \
  static ::srexpert::testing::diff::Observation FN(::srexpert::testing::diff::Api& api)
// DIFF_SCENARIO("errors.notfound", "a missing object is 404 NotFound") {
//   Observation o; ... return o; }
#define DIFF_SCENARIO(ID, TITLE) \
  SRX_DIFF_SCENARIO_IMPL(ID, TITLE, SRX_DIFF_CAT(srx_diff_scenario_, __LINE__))
