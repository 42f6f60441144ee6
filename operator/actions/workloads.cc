#include "actions/workloads.h"

#include <set>

#include "common/time_format.h"
#include "kube/rest_client.h"

namespace srexpert::actions {

namespace {

// Payload members other than these are refused: a typo must not be ignored.
bool OnlyMembers(const json::Value& p, const std::set<std::string>& allowed, std::string* bad) {
  for (auto it = p.MemberBegin(); it != p.MemberEnd(); ++it) {
    std::string k = it->name.GetString();
    if (k != "requestedBy" && !allowed.count(k)) {
      *bad = k;
      return false;
    }
  }
  return true;
}

// Reads the kind/namespace/name members shared by the workload kinds.
std::optional<std::string> ReadTarget(const json::Value& p, const std::set<std::string>& kinds,
                                      Target* t) {
  const auto* kind = json::Find(p, {"kind"});
  const auto* ns = json::Find(p, {"namespace"});
  const auto* name = json::Find(p, {"name"});
  if (!kind || !kind->IsString() || !kinds.count(kind->GetString())) {
    std::string list;
    for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
    return "kind: must be one of " + list;
  }
  if (!ns || !ns->IsString() || ns->GetStringLength() == 0 || ns->GetStringLength() > 63) {
    return std::string("namespace: required, a DNS-1123 label");
  }
  if (!name || !name->IsString() || name->GetStringLength() == 0 ||
      name->GetStringLength() > 253) {
    return std::string("name: required, 1..253 characters");
  }
  t->api_version = "apps/v1";
  t->kind = kind->GetString();
  t->ns = ns->GetString();
  t->name = name->GetString();
  return std::nullopt;
}

kube::ObjectRef Ref(const Target& t) { return {t.api_version, t.kind, t.ns, t.name}; }

}  // namespace

ActionKind WorkloadScaleKind(std::shared_ptr<kube::RestClient> client) {
  ActionKind k;
  k.name = "workload.scale";
  k.switch_name = "scale";
  k.parse = [client](const json::Value& p) -> ParseOutcome {
    std::string bad;
    if (!OnlyMembers(p, {"kind", "namespace", "name", "replicas", "expectedReplicas"}, &bad)) {
      return "unknown member \"" + bad + "\"";
    }
    Target t;
    if (auto err = ReadTarget(p, {"Deployment", "StatefulSet"}, &t)) return *err;
    const auto* replicas = json::Find(p, {"replicas"});
    if (!replicas || !replicas->IsInt64() || replicas->GetInt64() < 0 ||
        replicas->GetInt64() > 100000) {
      return std::string("replicas: required, an integer in 0..100000");
    }
    std::optional<int64_t> expected;
    if (const auto* e = json::Find(p, {"expectedReplicas"})) {
      if (!e->IsInt64() || e->GetInt64() < 0) {
        return std::string("expectedReplicas: a non-negative integer");
      }
      expected = e->GetInt64();
    }
    int64_t want = replicas->GetInt64();
    PreparedAction a;
    a.targets = {t};
    a.execute = [client, t, want, expected](const ActionRequest&,
                                           const CancelToken& cancel) -> ActionResult {
      if (cancel.Stop()) return ActionResult::Fail(codes::kTimeout, "deadline passed");
      // Read through /scale as well: the role grants the subresource only.
      auto bounds = cancel.Bounds(client->clock());
      auto info = client->Resolve(t.api_version, t.kind, bounds);
      if (!info) return FromKubeError(info.error(), t.Describe());
      auto live = client->GetPath(info->ObjectPath(t.ns, t.name, "scale"), bounds);
      if (!live) return FromKubeError(live.error(), t.Describe());
      int64_t previous = json::GetInt(*live, {"spec", "replicas"}, 1);
      std::string rv = json::GetString(*live, {"metadata", "resourceVersion"});
      if (expected && *expected != previous) {
        return ActionResult::Fail(codes::kConflict,
                                  t.Describe() + " has " +
                                      std::to_string(previous) + " replicas, expected " +
                                      std::to_string(*expected));
      }
      // The Scale's resourceVersion is its parent's: with the precondition
      // the write fails with 409 if the workload changed since the read.
      std::string body = "{\"spec\":{\"replicas\":" + std::to_string(want) + "}";
      if (expected) body += ",\"metadata\":{\"resourceVersion\":\"" + rv + "\"}";
      body += "}";
      kube::PatchOptions opts;
      opts.subresource = "scale";
      opts.field_manager = "srexpert-agent";
      opts.bounds = bounds;
      auto r = client->Patch(Ref(t), kube::PatchType::kMerge, body, opts);
      if (!r) return FromKubeError(r.error(), t.Describe());
      return ActionResult::Ok("{\"previousReplicas\":" + std::to_string(previous) +
                              ",\"replicas\":" +
                              std::to_string(json::GetInt(*r, {"spec", "replicas"}, want)) + "}");
    };
    return a;
  };
  return k;
}

ActionKind WorkloadRestartKind(std::shared_ptr<kube::RestClient> client) {
  ActionKind k;
  k.name = "workload.restart";
  k.switch_name = "restart";
  k.parse = [client](const json::Value& p) -> ParseOutcome {
    std::string bad;
    if (!OnlyMembers(p, {"kind", "namespace", "name"}, &bad)) {
      return "unknown member \"" + bad + "\"";
    }
    Target t;
    if (auto err = ReadTarget(p, {"DaemonSet", "Deployment", "StatefulSet"}, &t)) return *err;
    PreparedAction a;
    a.targets = {t};
    a.execute = [client, t](const ActionRequest&, const CancelToken& cancel) -> ActionResult {
      if (cancel.Stop()) return ActionResult::Fail(codes::kTimeout, "deadline passed");
      std::string at = FormatRfc3339(std::chrono::system_clock::now());
      // kubectl rollout restart's patch: a changed template starts a rollout.
      std::string body =
          R"({"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":")" +
          at + R"("}}}}})";
      kube::PatchOptions opts;
      opts.field_manager = "srexpert-agent";
      opts.bounds = cancel.Bounds(client->clock());
      auto r = client->Patch(Ref(t), kube::PatchType::kStrategicMerge, body, opts);
      if (!r) return FromKubeError(r.error(), t.Describe());
      return ActionResult::Ok(R"({"restartedAt":")" + at + R"("})");
    };
    return a;
  };
  return k;
}

}  // namespace srexpert::actions
