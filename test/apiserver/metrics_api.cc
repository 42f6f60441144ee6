#include "test/apiserver/metrics_api.h"

#include "common/time_format.h"

namespace srexpert::testing {
namespace {

constexpr const char* kGroup = "metrics.k8s.io";
constexpr const char* kVersion = "v1beta1";
constexpr const char* kGroupVersion = "metrics.k8s.io/v1beta1";

json::Value GroupVersionJson(json::Allocator& a) {
  json::Value gv(rapidjson::kObjectType);
  json::SetString(gv, "groupVersion", kGroupVersion, a);
  json::SetString(gv, "version", kVersion, a);
  return gv;
}

json::Value ResourceJson(const char* name, bool namespaced, const char* kind, json::Allocator& a) {
  json::Value r(rapidjson::kObjectType);
  json::SetString(r, "name", name, a);
  json::SetString(r, "singularName", "", a);  // metrics-server leaves it empty
  json::Set(r, "namespaced", json::Value(namespaced), a);
  json::SetString(r, "kind", kind, a);
  json::Value verbs(rapidjson::kArrayType);
  verbs.PushBack("get", a);
  verbs.PushBack("list", a);
  json::Set(r, "verbs", std::move(verbs), a);
  return r;
}

json::Value Usage(const std::string& cpu, const std::string& memory, json::Allocator& a) {
  json::Value u(rapidjson::kObjectType);
  json::SetString(u, "cpu", cpu, a);
  json::SetString(u, "memory", memory, a);
  return u;
}

Outcome Ok(json::Document d) {
  Outcome o;
  o.body = std::move(d);
  return o;
}

// What the generic apiserver answers for a verb the storage does not
// implement (metrics-server: no create/update/patch/delete/watch).
ApiError MethodNotAllowed() {
  return {405, "MethodNotAllowed",
          "the server does not allow this method on the requested resource"};
}

}  // namespace

void MetricsApi::SetServed(bool served) {
  std::lock_guard lock(mu_);
  served_ = served;
}

bool MetricsApi::Served() const {
  std::lock_guard lock(mu_);
  return served_;
}

void MetricsApi::Set(std::vector<NodeMetricsSample> nodes, std::vector<PodMetricsSample> pods) {
  std::lock_guard lock(mu_);
  nodes_ = std::move(nodes);
  pods_ = std::move(pods);
}

std::optional<json::Document> MetricsApi::GroupEntry() const {
  if (!Served()) return std::nullopt;
  json::Document g(rapidjson::kObjectType);
  auto& a = g.GetAllocator();
  json::SetString(g, "name", kGroup, a);
  json::Value versions(rapidjson::kArrayType);
  versions.PushBack(GroupVersionJson(a), a);
  json::Set(g, "versions", std::move(versions), a);
  json::Set(g, "preferredVersion", GroupVersionJson(a), a);
  return g;
}

json::Value MetricsApi::NodeItem(const NodeMetricsSample& n, json::Allocator& a) const {
  std::string now = FormatRfc3339(clock_.WallNow());
  json::Value item(rapidjson::kObjectType);
  json::Value meta(rapidjson::kObjectType);
  json::SetString(meta, "name", n.name, a);
  json::SetString(meta, "creationTimestamp", now, a);
  json::Set(item, "metadata", std::move(meta), a);
  json::SetString(item, "timestamp", now, a);
  json::SetString(item, "window", "10s", a);
  json::Set(item, "usage", Usage(n.cpu, n.memory, a), a);
  return item;
}

json::Value MetricsApi::PodItem(const PodMetricsSample& p, json::Allocator& a) const {
  std::string now = FormatRfc3339(clock_.WallNow());
  json::Value item(rapidjson::kObjectType);
  json::Value meta(rapidjson::kObjectType);
  json::SetString(meta, "name", p.name, a);
  json::SetString(meta, "namespace", p.ns, a);
  json::SetString(meta, "creationTimestamp", now, a);
  json::Set(item, "metadata", std::move(meta), a);
  json::SetString(item, "timestamp", now, a);
  json::SetString(item, "window", "10s", a);
  json::Value containers(rapidjson::kArrayType);
  for (const auto& c : p.containers) {
    json::Value cj(rapidjson::kObjectType);
    json::SetString(cj, "name", c.name, a);
    json::Set(cj, "usage", Usage(c.cpu, c.memory, a), a);
    containers.PushBack(cj, a);
  }
  json::Set(item, "containers", std::move(containers), a);
  return item;
}

Outcome MetricsApi::Handle(const std::string& method, const std::vector<std::string>& segs,
                           bool watch) {
  // segs: "apis", "metrics.k8s.io", ["v1beta1", ...]
  if (!Served()) return Outcome::Error(PathNotFound());
  if (segs.size() == 2) {
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    json::SetString(d, "kind", "APIGroup", a);
    json::SetString(d, "apiVersion", "v1", a);
    auto g = GroupEntry();
    for (auto& m : g->GetObject()) d.AddMember(json::Value(m.name, a), json::Value(m.value, a), a);
    return Ok(std::move(d));
  }
  if (segs[2] != kVersion) return Outcome::Error(PathNotFound());
  if (segs.size() == 3) {
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    json::SetString(d, "kind", "APIResourceList", a);
    json::SetString(d, "apiVersion", "v1", a);
    json::SetString(d, "groupVersion", kGroupVersion, a);
    json::Value resources(rapidjson::kArrayType);
    resources.PushBack(ResourceJson("nodes", false, "NodeMetrics", a), a);
    resources.PushBack(ResourceJson("pods", true, "PodMetrics", a), a);
    json::Set(d, "resources", std::move(resources), a);
    return Ok(std::move(d));
  }
  // /nodes[/name], /pods (all namespaces), /namespaces/<ns>/pods[/name]
  std::vector<std::string> rest(segs.begin() + 3, segs.end());
  std::string ns;
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 2) return Outcome::Error(PathNotFound());
  bool nodes = rest[0] == "nodes";
  if (!nodes && rest[0] != "pods") return Outcome::Error(PathNotFound());
  if (nodes && !ns.empty()) return Outcome::Error(PathNotFound());
  std::string name = rest.size() == 2 ? rest[1] : "";
  if (!nodes && !name.empty() && ns.empty()) return Outcome::Error(PathNotFound());
  if (method != "GET" || watch) return Outcome::Error(MethodNotAllowed());

  std::lock_guard lock(mu_);
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  if (!name.empty()) {
    json::Value item;
    if (nodes) {
      for (const auto& n : nodes_) {
        if (n.name == name) item = NodeItem(n, a);
      }
      if (item.IsNull()) return Outcome::Error(NotFound({kGroup, "nodemetrics"}, name));
    } else {
      for (const auto& p : pods_) {
        if (p.ns == ns && p.name == name) item = PodItem(p, a);
      }
      if (item.IsNull()) return Outcome::Error(NotFound({kGroup, "podmetrics"}, ns + "/" + name));
    }
    json::SetString(d, "kind", nodes ? "NodeMetrics" : "PodMetrics", a);
    json::SetString(d, "apiVersion", kGroupVersion, a);
    for (auto& m : item.GetObject()) d.AddMember(m.name, m.value, a);
    return Ok(std::move(d));
  }
  json::SetString(d, "kind", nodes ? "NodeMetricsList" : "PodMetricsList", a);
  json::SetString(d, "apiVersion", kGroupVersion, a);
  json::Set(d, "metadata", json::Value(rapidjson::kObjectType), a);
  json::Value items(rapidjson::kArrayType);
  if (nodes) {
    for (const auto& n : nodes_) items.PushBack(NodeItem(n, a), a);
  } else {
    for (const auto& p : pods_) {
      if (ns.empty() || p.ns == ns) items.PushBack(PodItem(p, a), a);
    }
  }
  json::Set(d, "items", std::move(items), a);
  return Ok(std::move(d));
}

std::optional<std::string> MetricsApi::SetFromJson(const json::Value& body) {
  if (!body.IsObject()) return "body must be an object";
  auto usage = [](const json::Value& v, std::string* cpu, std::string* memory) {
    *cpu = json::GetString(v, {"cpu"}, "0");
    *memory = json::GetString(v, {"memory"}, "0");
  };
  std::vector<NodeMetricsSample> nodes;
  std::vector<PodMetricsSample> pods;
  if (const auto* n = json::Find(body, {"nodes"}); n && n->IsArray()) {
    for (const auto& e : n->GetArray()) {
      NodeMetricsSample s;
      s.name = json::GetString(e, {"name"});
      if (s.name.empty()) return "nodes[].name is required";
      usage(e, &s.cpu, &s.memory);
      nodes.push_back(std::move(s));
    }
  }
  if (const auto* p = json::Find(body, {"pods"}); p && p->IsArray()) {
    for (const auto& e : p->GetArray()) {
      PodMetricsSample s;
      s.ns = json::GetString(e, {"namespace"});
      s.name = json::GetString(e, {"name"});
      if (s.ns.empty() || s.name.empty()) return "pods[].namespace and pods[].name are required";
      if (const auto* cs = json::Find(e, {"containers"}); cs && cs->IsArray()) {
        for (const auto& c : cs->GetArray()) {
          ContainerUsage u;
          u.name = json::GetString(c, {"name"});
          usage(c, &u.cpu, &u.memory);
          s.containers.push_back(std::move(u));
        }
      }
      pods.push_back(std::move(s));
    }
  }
  std::lock_guard lock(mu_);
  if (const auto* s = json::Find(body, {"served"}); s && s->IsBool()) served_ = s->GetBool();
  nodes_ = std::move(nodes);
  pods_ = std::move(pods);
  return std::nullopt;
}

json::Document MetricsApi::ToJson() const {
  std::lock_guard lock(mu_);
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Set(d, "served", json::Value(served_), a);
  json::Value nodes(rapidjson::kArrayType);
  for (const auto& n : nodes_) {
    json::Value e = Usage(n.cpu, n.memory, a);
    json::SetString(e, "name", n.name, a);
    nodes.PushBack(e, a);
  }
  json::Set(d, "nodes", std::move(nodes), a);
  json::Value pods(rapidjson::kArrayType);
  for (const auto& p : pods_) {
    json::Value e(rapidjson::kObjectType);
    json::SetString(e, "namespace", p.ns, a);
    json::SetString(e, "name", p.name, a);
    json::Value cs(rapidjson::kArrayType);
    for (const auto& c : p.containers) {
      json::Value cj = Usage(c.cpu, c.memory, a);
      json::SetString(cj, "name", c.name, a);
      cs.PushBack(cj, a);
    }
    json::Set(e, "containers", std::move(cs), a);
    pods.PushBack(e, a);
  }
  json::Set(d, "pods", std::move(pods), a);
  return d;
}

}  // namespace srexpert::testing
