// The agent DaemonSet: one hardened pod per node (Pod Security Standard
// "restricted"), token and configuration mounted as files.
#include "api/names.h"
#include "controller/desired.h"
#include "controller/object_meta.h"

namespace srexpert::controller {

namespace {

// Helm's HOME/cache/config/data for the helm.* actions (operator/actions/
// helm.h, docs/helm.md): a memory-backed emptyDir, since the root filesystem
// is read-only. Only present when spec.actions.helm is on. Its size counts
// against the container's memory.
constexpr std::string_view kHelmHomeVolume = "helm-home";
constexpr std::string_view kHelmHomeDir = "/var/lib/srexpert/helm";
constexpr std::string_view kHelmHomeEnv = "SRX_HELM_HOME";
constexpr std::string_view kHelmHomeSizeLimit = "128Mi";

json::Value Obj() { return json::Value(rapidjson::kObjectType); }
json::Value Arr() { return json::Value(rapidjson::kArrayType); }

json::Value FieldRefEnv(std::string_view name, std::string_view field_path, json::Allocator& a) {
  json::Value env = Obj();
  json::SetString(env, "name", name, a);
  json::Value field_ref = Obj();
  json::SetString(field_ref, "fieldPath", field_path, a);
  json::Value value_from = Obj();
  json::Set(value_from, "fieldRef", std::move(field_ref), a);
  json::Set(env, "valueFrom", std::move(value_from), a);
  return env;
}

json::Value ValueEnv(std::string_view name, std::string_view value, json::Allocator& a) {
  json::Value env = Obj();
  json::SetString(env, "name", name, a);
  json::SetString(env, "value", value, a);
  return env;
}

json::Value Probe(std::string_view path, int period, json::Allocator& a) {
  json::Value http = Obj();
  json::SetString(http, "path", path, a);
  json::SetString(http, "port", "health", a);
  json::Value probe = Obj();
  json::Set(probe, "httpGet", std::move(http), a);
  json::Set(probe, "periodSeconds", json::Value(period), a);
  json::Set(probe, "timeoutSeconds", json::Value(2), a);
  json::Set(probe, "failureThreshold", json::Value(3), a);
  return probe;
}

json::Value Mount(std::string_view name, std::string_view path, bool read_only,
                  json::Allocator& a) {
  json::Value m = Obj();
  json::SetString(m, "name", name, a);
  json::SetString(m, "mountPath", path, a);
  if (read_only) json::Set(m, "readOnly", json::Value(true), a);
  return m;
}

json::Value SeccompRuntimeDefault(json::Allocator& a) {
  json::Value s = Obj();
  json::SetString(s, "type", "RuntimeDefault", a);
  return s;
}

json::Value ContainerSecurityContext(json::Allocator& a) {
  json::Value sc = Obj();
  json::Set(sc, "allowPrivilegeEscalation", json::Value(false), a);
  json::Set(sc, "privileged", json::Value(false), a);
  json::Set(sc, "readOnlyRootFilesystem", json::Value(true), a);
  json::Set(sc, "runAsNonRoot", json::Value(true), a);
  json::Set(sc, "runAsUser", json::Value(kAgentUid), a);
  json::Set(sc, "runAsGroup", json::Value(kAgentUid), a);
  json::Value caps = Obj();
  json::Value drop = Arr();
  drop.PushBack(json::String("ALL", a), a);
  json::Set(caps, "drop", std::move(drop), a);
  json::Set(sc, "capabilities", std::move(caps), a);
  json::Set(sc, "seccompProfile", SeccompRuntimeDefault(a), a);
  return sc;
}

json::Value PodSecurityContext(json::Allocator& a) {
  json::Value sc = Obj();
  json::Set(sc, "runAsNonRoot", json::Value(true), a);
  json::Set(sc, "runAsUser", json::Value(kAgentUid), a);
  json::Set(sc, "runAsGroup", json::Value(kAgentUid), a);
  // Mounted Secret/ConfigMap files get this group, so mode 0440 suffices.
  json::Set(sc, "fsGroup", json::Value(kAgentUid), a);
  json::Set(sc, "seccompProfile", SeccompRuntimeDefault(a), a);
  return sc;
}

json::Value Resources(const api::ResourceRequirements& r, json::Allocator& a) {
  json::Value out = Obj();
  if (!r.requests.empty()) json::Set(out, "requests", internal::StringMap(r.requests, a), a);
  if (!r.limits.empty()) json::Set(out, "limits", internal::StringMap(r.limits, a), a);
  return out;
}

json::Value Tolerations(const std::vector<api::Toleration>& tolerations, json::Allocator& a) {
  json::Value out = Arr();
  for (const auto& t : tolerations) {
    json::Value item = Obj();
    if (!t.key.empty()) json::SetString(item, "key", t.key, a);
    json::SetString(item, "operator", t.op, a);
    if (!t.value.empty()) json::SetString(item, "value", t.value, a);
    if (!t.effect.empty()) json::SetString(item, "effect", t.effect, a);
    if (t.toleration_seconds) {
      json::Set(item, "tolerationSeconds", json::Value(static_cast<int64_t>(*t.toleration_seconds)),
                a);
    }
    out.PushBack(item, a);
  }
  return out;
}

json::Value Volumes(const api::ChildNames& names, bool helm, json::Allocator& a) {
  json::Value volumes = Arr();

  json::Value token = Obj();
  json::SetString(token, "name", "token", a);
  json::Value secret = Obj();
  json::SetString(secret, "secretName", names.secret, a);
  json::Set(secret, "defaultMode", json::Value(0440), a);
  json::Value items = Arr();
  json::Value item = Obj();
  json::SetString(item, "key", kTokenKey, a);
  json::SetString(item, "path", kTokenKey, a);
  items.PushBack(item, a);
  json::Set(secret, "items", std::move(items), a);
  json::Set(token, "secret", std::move(secret), a);
  volumes.PushBack(token, a);

  json::Value config = Obj();
  json::SetString(config, "name", "config", a);
  json::Value cm = Obj();
  json::SetString(cm, "name", names.config_map, a);
  json::Set(cm, "defaultMode", json::Value(0444), a);
  json::Set(config, "configMap", std::move(cm), a);
  volumes.PushBack(config, a);

  // The root filesystem is read-only; /tmp is a small memory-backed scratch.
  json::Value tmp = Obj();
  json::SetString(tmp, "name", "tmp", a);
  json::Value empty_dir = Obj();
  json::SetString(empty_dir, "medium", "Memory", a);
  json::SetString(empty_dir, "sizeLimit", "64Mi", a);
  json::Set(tmp, "emptyDir", std::move(empty_dir), a);
  volumes.PushBack(tmp, a);

  if (helm) {
    json::Value home = Obj();
    json::SetString(home, "name", kHelmHomeVolume, a);
    json::Value home_dir = Obj();
    json::SetString(home_dir, "medium", "Memory", a);
    json::SetString(home_dir, "sizeLimit", kHelmHomeSizeLimit, a);
    json::Set(home, "emptyDir", std::move(home_dir), a);
    volumes.PushBack(home, a);
  }
  return volumes;
}

}  // namespace

json::Document DesiredDaemonSet(const api::AgentConfig& config, const BuildInputs& in) {
  const auto& agent = config.spec.agent;
  const auto names = api::NamesFor(config.meta.name);
  auto doc =
      internal::NewObject("apps/v1", "DaemonSet", names.daemon_set, config.meta.namespace_, config);
  internal::OwnByAgentConfig(doc, config);
  auto& a = doc.GetAllocator();

  json::Value container = Obj();
  json::SetString(container, "name", "agent", a);
  json::SetString(container, "image", agent.image.empty() ? in.default_agent_image : agent.image,
                  a);
  json::SetString(container, "imagePullPolicy", agent.image_pull_policy, a);
  json::Value env = Arr();
  env.PushBack(FieldRefEnv("POD_NAME", "metadata.name", a), a);
  env.PushBack(FieldRefEnv("POD_NAMESPACE", "metadata.namespace", a), a);
  env.PushBack(FieldRefEnv("NODE_NAME", "spec.nodeName", a), a);
  env.PushBack(ValueEnv(kConfigFileEnv, kConfigFile, a), a);
  if (config.spec.actions.helm) env.PushBack(ValueEnv(kHelmHomeEnv, kHelmHomeDir, a), a);
  json::Set(container, "env", std::move(env), a);
  json::Value port = Obj();
  json::SetString(port, "name", "health", a);
  json::Set(port, "containerPort", json::Value(kHealthPort), a);
  json::SetString(port, "protocol", "TCP", a);
  json::Value ports = Arr();
  ports.PushBack(port, a);
  json::Set(container, "ports", std::move(ports), a);
  json::Set(container, "livenessProbe", Probe("/healthz", 10, a), a);
  json::Set(container, "readinessProbe", Probe("/readyz", 5, a), a);
  json::Set(container, "resources", Resources(agent.resources, a), a);
  json::Set(container, "securityContext", ContainerSecurityContext(a), a);
  json::Value mounts = Arr();
  mounts.PushBack(Mount("token", kTokenDir, true, a), a);
  mounts.PushBack(Mount("config", kConfigDir, true, a), a);
  mounts.PushBack(Mount("tmp", "/tmp", false, a), a);
  if (config.spec.actions.helm) mounts.PushBack(Mount(kHelmHomeVolume, kHelmHomeDir, false, a), a);
  json::Set(container, "volumeMounts", std::move(mounts), a);

  json::Value pod_spec = Obj();
  json::SetString(pod_spec, "serviceAccountName", names.service_account, a);
  json::Set(pod_spec, "automountServiceAccountToken", json::Value(true), a);
  json::Set(pod_spec, "securityContext", PodSecurityContext(a), a);
  json::Value containers = Arr();
  containers.PushBack(container, a);
  json::Set(pod_spec, "containers", std::move(containers), a);
  json::Set(pod_spec, "volumes", Volumes(names, config.spec.actions.helm, a), a);
  if (!agent.node_selector.empty()) {
    json::Set(pod_spec, "nodeSelector", internal::StringMap(agent.node_selector, a), a);
  }
  if (!agent.tolerations.empty()) {
    json::Set(pod_spec, "tolerations", Tolerations(agent.tolerations, a), a);
  }
  if (!agent.priority_class_name.empty()) {
    json::SetString(pod_spec, "priorityClassName", agent.priority_class_name, a);
  }
  if (!agent.image_pull_secrets.empty()) {
    json::Value secrets = Arr();
    for (const auto& s : agent.image_pull_secrets) {
      json::Value ref = Obj();
      json::SetString(ref, "name", s, a);
      secrets.PushBack(ref, a);
    }
    json::Set(pod_spec, "imagePullSecrets", std::move(secrets), a);
  }

  // Pod labels: ours win (the parser already rejects podLabels that try).
  auto labels = agent.pod_labels;
  for (const auto& [k, v] : api::CommonLabels(config.meta.name)) labels[k] = v;
  auto annotations = agent.pod_annotations;
  annotations[std::string(api::kConfigChecksumAnnotation)] =
      ConfigChecksum(DesiredConfigMap(config, in));
  json::Value template_meta = Obj();
  json::Set(template_meta, "labels", internal::StringMap(labels, a), a);
  json::Set(template_meta, "annotations", internal::StringMap(annotations, a), a);
  json::Value pod_template = Obj();
  json::Set(pod_template, "metadata", std::move(template_meta), a);
  json::Set(pod_template, "spec", std::move(pod_spec), a);

  json::Value selector = Obj();
  json::Set(selector, "matchLabels", internal::StringMap(api::SelectorLabels(config.meta.name), a),
            a);
  json::Value spec = Obj();
  json::Set(spec, "selector", std::move(selector), a);
  json::Set(spec, "template", std::move(pod_template), a);
  json::Set(doc, "spec", std::move(spec), a);
  return doc;
}

std::vector<json::Document> DesiredChildren(const api::AgentConfig& config, const BuildInputs& in) {
  std::vector<json::Document> out;
  out.push_back(DesiredServiceAccount(config, in));
  out.push_back(DesiredClusterRole(config, in));
  out.push_back(DesiredClusterRoleBinding(config, in));
  out.push_back(DesiredLeaderElectionRole(config, in));
  out.push_back(DesiredLeaderElectionRoleBinding(config, in));
  if (HasActionRoles(config)) {
    for (const auto& ns : config.spec.actions.namespaces) {
      out.push_back(DesiredActionRole(config, in, ns));
      out.push_back(DesiredActionRoleBinding(config, in, ns));
    }
  }
  out.push_back(DesiredSecret(config, in));
  out.push_back(DesiredConfigMap(config, in));
  out.push_back(DesiredDaemonSet(config, in));
  return out;
}

bool HasOwnerUid(const json::Value& obj, std::string_view uid) {
  const json::Value* refs = json::Find(obj, {"metadata", "ownerReferences"});
  if (refs == nullptr || !refs->IsArray()) return false;
  for (const auto& ref : refs->GetArray()) {
    if (!uid.empty() && json::GetString(ref, {"uid"}) == uid) return true;
  }
  return false;
}

}  // namespace srexpert::controller
