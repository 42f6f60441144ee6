#include "stream/projection.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include "scan/sensitive_data.h"

namespace srexpert::stream {

namespace {

using Value = rapidjson::Value;

using W = rapidjson::Writer<rapidjson::StringBuffer>;

// One buffer and writer per thread: projection runs for every object of
// every list and watch event, and after warm-up the only allocation left is
// the returned string. rapidjson's StringBuffer (not a std::string adapter)
// because the Writer reserves once per string and then copies without
// per-character capacity checks: 2.5 times faster on the realistic pod
// (about 6 us per pod at -O2).
struct Scratch {
  rapidjson::StringBuffer buf;
  W writer{buf};

  W& Begin() {
    buf.Clear();
    writer.Reset(buf);
    return writer;
  }
  std::string Take() {
    std::string result(buf.GetString(), buf.GetSize());
    // One giant object must not pin its buffer in every thread forever.
    if (buf.GetSize() > (1u << 20)) buf.ShrinkToFit();
    return result;
  }
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";
constexpr std::string_view kServiceAccountMountPath =
    "/var/run/secrets/kubernetes.io/serviceaccount";

std::string_view View(const Value& s) { return {s.GetString(), s.GetStringLength()}; }

const Value* Get(const Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  const Value name(rapidjson::StringRef(key.data(), key.size()));
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

const Value* GetObject(const Value& obj, std::string_view key) {
  const Value* v = Get(obj, key);
  return v && v->IsObject() ? v : nullptr;
}

std::string_view GetStr(const Value& obj, std::string_view key) {
  const Value* v = Get(obj, key);
  return v && v->IsString() ? View(*v) : std::string_view{};
}

void Key(W& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}
void Str(W& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

bool IsScalar(const Value& v) { return v.IsString() || v.IsNumber() || v.IsBool(); }
void WriteScalar(W& w, const Value& v) {
  if (v.IsString()) {
    Str(w, View(v));
  } else {
    v.Accept(w);  // number or bool
  }
}

// Writes key and value when the member is a string, number or bool; nulls,
// objects and arrays are skipped.
void Scalar(W& w, const Value& obj, std::string_view key) {
  const Value* v = Get(obj, key);
  if (v && IsScalar(*v)) {
    Key(w, key);
    WriteScalar(w, *v);
  }
}

void Scalars(W& w, const Value& obj, std::initializer_list<std::string_view> keys) {
  for (auto k : keys) Scalar(w, obj, k);
}

// A string member unless it holds the API's default (a port's "TCP"): the
// default is implied, and on every port of every pod it adds up.
void NonDefault(W& w, const Value& obj, std::string_view key, std::string_view default_value) {
  const std::string_view v = GetStr(obj, key);
  if (v.empty() || v == default_value) return;
  Key(w, key);
  Str(w, v);
}

// Calls f(member) for the members of `obj` in key order. Maps from the API
// are usually sorted already (Go's encoder sorts map keys), but other clients
// and servers need not, and determinism must not depend on them.
template <typename F>
void ForSorted(const Value& obj, F&& f) {
  const size_t n = obj.MemberCount();
  std::array<const Value::Member*, 32> local{};
  std::vector<const Value::Member*> heap;
  const Value::Member** members = local.data();
  if (n > local.size()) {
    heap.resize(n);
    members = heap.data();
  }
  size_t i = 0;
  for (const auto& m : obj.GetObject()) members[i++] = &m;
  std::sort(members, members + n, [](const Value::Member* a, const Value::Member* b) {
    return View(a->name) < View(b->name);
  });
  for (i = 0; i < n; ++i) f(*members[i]);
}

// Deep copy with object members in key order and null members dropped.
void WriteSorted(W& w, const Value& v) {
  if (v.IsObject()) {
    w.StartObject();
    ForSorted(v, [&](const Value::Member& m) {
      if (m.value.IsNull()) return;
      Key(w, View(m.name));
      WriteSorted(w, m.value);
    });
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) WriteSorted(w, e);
    w.EndArray();
  } else if (v.IsNull()) {
    w.Null();
  } else {
    WriteScalar(w, v);
  }
}

bool IsEmpty(const Value& v) {
  return v.IsNull() || (v.IsObject() && v.MemberCount() == 0) || (v.IsArray() && v.Empty());
}

// The member in full (sorted), unless missing, null or empty.
void Sorted(W& w, const Value& obj, std::string_view key) {
  const Value* v = Get(obj, key);
  if (!v || IsEmpty(*v)) return;
  Key(w, key);
  WriteSorted(w, *v);
}

// Writes key and an object whose members `body` writes, when the member is an
// object.
template <typename F>
void Object(W& w, const Value& obj, std::string_view key, F&& body) {
  const Value* v = GetObject(obj, key);
  if (!v) return;
  Key(w, key);
  w.StartObject();
  body(*v);
  w.EndObject();
}

// Writes key and an array with one object per object element (its members
// written by `fields`), when the member is a non-empty array.
template <typename F>
void ObjectArray(W& w, const Value& obj, std::string_view key, F&& fields) {
  const Value* v = Get(obj, key);
  if (!v || !v->IsArray() || v->Empty()) return;
  Key(w, key);
  w.StartArray();
  for (const auto& e : v->GetArray()) {
    if (!e.IsObject()) continue;
    w.StartObject();
    fields(e);
    w.EndObject();
  }
  w.EndArray();
}

// A status list whose elements are identified by one member (Kubernetes
// "list-map": conditions by type, container statuses by name), written as
// an object keyed by that member instead of an array. A merge patch then
// carries only the element that changed — a restart is one container's
// status and the two conditions that turned, not the whole lists. Elements
// without the key, or repeating one, are left out (a JSON object cannot
// hold a name twice).
template <typename F>
void KeyedObjectArray(W& w, const Value& obj, std::string_view key, std::string_view id,
                      F&& fields) {
  const Value* v = Get(obj, key);
  if (!v || !v->IsArray() || v->Empty()) return;
  Key(w, key);
  w.StartObject();
  std::vector<std::string_view> seen;
  for (const auto& e : v->GetArray()) {
    if (!e.IsObject()) continue;
    std::string_view name = GetStr(e, id);
    if (name.empty() || std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    Key(w, name);
    w.StartObject();
    fields(e);
    w.EndObject();
  }
  w.EndObject();
}

void StringArray(W& w, const Value& obj, std::string_view key) {
  const Value* v = Get(obj, key);
  if (!v || !v->IsArray() || v->Empty()) return;
  Key(w, key);
  w.StartArray();
  for (const auto& e : v->GetArray()) {
    if (e.IsString()) Str(w, View(e));
  }
  w.EndArray();
}

void Conditions(W& w, const Value& status) {
  // No timestamps: lastHeartbeatTime / lastProbeTime / lastUpdateTime change
  // without any change of state.
  KeyedObjectArray(w, status, "conditions", "type", [&](const Value& c) {
    Scalars(w, c, {"status", "reason"});
  });
}

// ---------------------------------------------------------------- metadata

void Labels(W& w, const Value& meta) { Sorted(w, meta, "labels"); }

void Annotations(W& w, const Value& meta) {
  const Value* a = GetObject(meta, "annotations");
  if (!a) return;
  size_t kept = 0;
  for (const auto& m : a->GetObject()) kept += View(m.name) != kLastApplied;
  if (kept == 0) return;
  Key(w, "annotations");
  w.StartObject();
  ForSorted(*a, [&](const Value::Member& m) {
    if (View(m.name) == kLastApplied || !m.value.IsString()) return;
    Key(w, View(m.name));
    Str(w, View(m.value));
  });
  w.EndObject();
}

void Metadata(W& w, const Value& meta) {
  Key(w, "metadata");
  w.StartObject();
  Scalars(w, meta,
          {"name", "namespace", "uid", "generation", "creationTimestamp", "deletionTimestamp"});
  Labels(w, meta);
  Annotations(w, meta);
  ObjectArray(w, meta, "ownerReferences", [&](const Value& o) {
    // The uid identifies the owner; apiVersion would only repeat the kind's.
    Scalars(w, o, {"kind", "name", "uid", "controller"});
  });
  w.EndObject();
}

// Pod template / job template metadata: what selects and annotates the pods.
void TemplateMetadata(W& w, const Value& tmpl) {
  Object(w, tmpl, "metadata", [&](const Value& meta) {
    Labels(w, meta);
    Annotations(w, meta);
  });
}

// ---------------------------------------------------------------- pods

// The first member that is an object, other than `skip`: the one-of source of
// a volume ("hostPath", "secret", ...) or of a projection.
const Value::Member* SourceMember(const Value& obj, std::string_view skip) {
  for (const auto& m : obj.GetObject()) {
    if (m.value.IsObject() && View(m.name) != skip) return &m;
  }
  return nullptr;
}

void Volume(W& w, const Value& v) {
  Scalar(w, v, "name");
  const Value::Member* src = SourceMember(v, "name");
  if (!src) return;
  const std::string_view type = View(src->name);
  const Value& s = src->value;
  Key(w, "type");
  Str(w, type);
  // Names and paths only: which Secret, ConfigMap, claim or host path is
  // mounted matters to the scans; items, modes and the like do not.
  if (type == "hostPath") {
    Scalar(w, s, "path");
  } else if (type == "persistentVolumeClaim") {
    Scalars(w, s, {"claimName", "readOnly"});
  } else if (type == "secret") {
    Scalar(w, s, "secretName");
  } else if (type == "configMap") {
    if (auto name = GetStr(s, "name"); !name.empty()) {
      Key(w, "configMapName");
      Str(w, name);
    }
  } else if (type == "csi") {
    Scalar(w, s, "driver");
  } else if (type == "nfs") {
    Scalars(w, s, {"server", "path"});
  } else if (type == "projected") {
    // Every pod carries one of these (kube-api-access-*: token, CA bundle,
    // namespace); what matters is whether it holds a token and which
    // Secrets it projects.
    const Value* sources = Get(s, "sources");
    if (!sources || !sources->IsArray()) return;
    bool token = false, any_secret = false;
    for (const auto& p : sources->GetArray()) {
      token |= GetObject(p, "serviceAccountToken") != nullptr;
      any_secret |= GetObject(p, "secret") != nullptr;
    }
    if (token) {
      Key(w, "serviceAccountToken");
      w.Bool(true);
    }
    if (any_secret) {
      Key(w, "secretNames");
      w.StartArray();
      for (const auto& p : sources->GetArray()) {
        if (const Value* secret = GetObject(p, "secret")) Str(w, GetStr(*secret, "name"));
      }
      w.EndArray();
    }
  }
}

std::string_view ProbeHandler(const Value& probe) {
  for (std::string_view h : {"httpGet", "tcpSocket", "exec", "grpc"}) {
    if (Get(probe, h)) return h;
  }
  return "other";
}

void ContainerState(W& w, const Value& cs, std::string_view key) {
  const Value* state = GetObject(cs, key);
  if (!state) return;
  bool any = false;
  for (std::string_view s : {"running", "waiting", "terminated"})
    any |= GetObject(*state, s) != nullptr;
  if (!any) return;
  Key(w, key);
  w.StartObject();
  // The reason and exit code say what happened; start/finish times and
  // messages only add bytes (the Events carry the messages).
  for (std::string_view s : {"running", "waiting", "terminated"}) {
    Object(w, *state, s, [&](const Value& st) { Scalars(w, st, {"reason", "exitCode"}); });
  }
  w.EndObject();
}

// The hosts a probe or lifecycle handler sends to instead of the pod's own
// IP: all the PodSecurity host-probes check needs, without the rest of the
// handler (commands, paths, headers).
void HandlerHosts(const Value& c, std::vector<std::string_view>* hosts) {
  auto add = [&](const Value* handler) {
    if (!handler) return;
    for (std::string_view kind : {"httpGet", "tcpSocket"}) {
      const Value* h = GetObject(*handler, kind);
      std::string_view host = h ? GetStr(*h, "host") : std::string_view{};
      if (!host.empty()) hosts->push_back(host);
    }
  };
  for (std::string_view p : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    add(GetObject(c, p));
  }
  if (const Value* lifecycle = GetObject(c, "lifecycle")) {
    for (std::string_view hook : {"postStart", "preStop"}) add(GetObject(*lifecycle, hook));
  }
}

void Container(W& w, const Value& c) {
  // imagePullPolicy: the image-pull-policy check; the API server defaults it.
  Scalars(w, c, {"name", "image", "imagePullPolicy"});
  Sorted(w, c, "resources");
  ObjectArray(w, c, "ports", [&](const Value& p) {
    Scalars(w, p, {"name", "containerPort", "hostPort"});
    NonDefault(w, p, "protocol", "TCP");
  });
  Sorted(w, c, "securityContext");
  bool has_probe = false;
  for (std::string_view p : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    has_probe |= GetObject(c, p) != nullptr;
  }
  if (has_probe) {
    Key(w, "probes");
    w.StartObject();
    for (auto [in, out] :
         {std::pair<std::string_view, std::string_view>{"livenessProbe", "liveness"},
          {"readinessProbe", "readiness"},
          {"startupProbe", "startup"}}) {
      if (const Value* p = GetObject(c, in)) {
        Key(w, out);
        Str(w, ProbeHandler(*p));
      }
    }
    w.EndObject();
  }
  std::vector<std::string_view> hosts;
  HandlerHosts(c, &hosts);
  if (!hosts.empty()) {
    Key(w, "handlerHosts");
    w.StartArray();
    for (std::string_view h : hosts) Str(w, h);
    w.EndArray();
  }
  // Env names and the references of valueFrom, never `value`: literal values
  // are where credentials end up. What the sensitive-env-var check needs of
  // a value is reduced here to two flags (scan/sensitive_data.h).
  ObjectArray(w, c, "env", [&](const Value& e) {
    Scalar(w, e, "name");
    if (const Value* v = Get(e, "value"); v && v->IsString() && v->GetStringLength() > 0) {
      Key(w, "literal");
      w.Bool(true);
      if (scan::HoldsPrivateKey(View(*v))) {
        Key(w, "privateKey");
        w.Bool(true);
      }
    }
    Object(w, e, "valueFrom", [&](const Value& from) {
      for (std::string_view ref : {"secretKeyRef", "configMapKeyRef"}) {
        Object(w, from, ref, [&](const Value& r) { Scalars(w, r, {"name", "key"}); });
      }
      Object(w, from, "fieldRef", [&](const Value& r) { Scalar(w, r, "fieldPath"); });
      Object(w, from, "resourceFieldRef", [&](const Value& r) {
        Scalars(w, r, {"containerName", "resource"});
      });
    });
  });
  ObjectArray(w, c, "envFrom", [&](const Value& e) {
    Scalar(w, e, "prefix");
    for (std::string_view ref : {"configMapRef", "secretRef"}) {
      Object(w, e, ref, [&](const Value& r) { Scalars(w, r, {"name", "optional"}); });
    }
  });
  // Not the service-account token mount the admission chain adds to every
  // container: the pod's projected volume (serviceAccountToken:true) and
  // automountServiceAccountToken already say the token is there.
  const Value* mounts = Get(c, "volumeMounts");
  if (mounts && mounts->IsArray()) {
    bool open = false;
    for (const auto& m : mounts->GetArray()) {
      if (!m.IsObject() || GetStr(m, "mountPath") == kServiceAccountMountPath) continue;
      if (!open) {
        Key(w, "volumeMounts");
        w.StartArray();
        open = true;
      }
      w.StartObject();
      Scalars(w, m, {"name", "mountPath", "subPath", "readOnly"});
      w.EndObject();
    }
    if (open) w.EndArray();
  }
}

void PodSpec(W& w, const Value& spec) {
  Scalars(w, spec,
          {"nodeName", "serviceAccountName", "automountServiceAccountToken", "hostNetwork",
           "hostPID", "hostIPC", "priorityClassName"});
  Sorted(w, spec, "nodeSelector");
  Sorted(w, spec, "securityContext");
  // What spreads the replicas, not the label selector (the topology-spread
  // check only asks whether there is one).
  ObjectArray(w, spec, "topologySpreadConstraints", [&](const Value& t) {
    Scalars(w, t, {"topologyKey", "maxSkew", "whenUnsatisfiable"});
  });
  ObjectArray(w, spec, "volumes", [&](const Value& v) { Volume(w, v); });
  ObjectArray(w, spec, "initContainers", [&](const Value& c) { Container(w, c); });
  ObjectArray(w, spec, "containers", [&](const Value& c) { Container(w, c); });
}

// The spec image of container `name` in spec[list].
std::string_view SpecImage(const Value* spec, std::string_view list, std::string_view name) {
  const Value* containers = spec ? Get(*spec, list) : nullptr;
  if (!containers || !containers->IsArray()) return {};
  for (const auto& c : containers->GetArray()) {
    if (GetStr(c, "name") == name) return GetStr(c, "image");
  }
  return {};
}

void ContainerStatuses(W& w, const Value& status, const Value* spec, std::string_view key,
                       std::string_view spec_list) {
  KeyedObjectArray(w, status, key, "name", [&](const Value& cs) {
    // The running image, when it is not simply the spec's (a re-tagged or
    // digest-resolved image); the spec already carries the usual case.
    const std::string_view image = GetStr(cs, "image");
    if (!image.empty() && image != SpecImage(spec, spec_list, GetStr(cs, "name"))) {
      Key(w, "image");
      Str(w, image);
    }
    Scalars(w, cs, {"ready", "restartCount"});
    ContainerState(w, cs, "state");
    ContainerState(w, cs, "lastState");
  });
}

void PodStatus(W& w, const Value& status, const Value& pod) {
  Scalars(w, status, {"phase", "reason", "message"});
  Conditions(w, status);
  Scalars(w, status, {"hostIP", "podIP", "qosClass", "startTime"});
  const Value* spec = GetObject(pod, "spec");
  ContainerStatuses(w, status, spec, "initContainerStatuses", "initContainers");
  ContainerStatuses(w, status, spec, "containerStatuses", "containers");
}

void PodTemplate(W& w, const Value& parent) {
  Object(w, parent, "template", [&](const Value& t) {
    TemplateMetadata(w, t);
    Object(w, t, "spec", [&](const Value& s) { PodSpec(w, s); });
  });
}

// ---------------------------------------------------------------- workloads

void WorkloadSpec(W& w, const Value& spec) {
  Scalars(w, spec, {"replicas", "paused", "minReadySeconds", "serviceName", "podManagementPolicy"});
  Sorted(w, spec, "selector");
  Sorted(w, spec, "strategy");        // Deployment
  Sorted(w, spec, "updateStrategy");  // StatefulSet, DaemonSet
  PodTemplate(w, spec);
  ObjectArray(w, spec, "volumeClaimTemplates", [&](const Value& pvc) {
    if (const Value* m = GetObject(pvc, "metadata")) Scalar(w, *m, "name");
    Object(w, pvc, "spec", [&](const Value& s) {
      StringArray(w, s, "accessModes");
      Scalar(w, s, "storageClassName");
      Sorted(w, s, "resources");
    });
  });
}

void WorkloadStatus(W& w, const Value& status) {
  Scalars(
      w, status,
      {"observedGeneration", "replicas", "readyReplicas", "availableReplicas", "updatedReplicas",
       "unavailableReplicas", "fullyLabeledReplicas", "currentReplicas", "currentRevision",
       "updateRevision", "currentNumberScheduled", "desiredNumberScheduled", "numberAvailable",
       "numberMisscheduled", "numberReady", "numberUnavailable", "updatedNumberScheduled"});
  Conditions(w, status);
}

void JobSpec(W& w, const Value& spec) {
  Scalars(w, spec,
          {"parallelism", "completions", "completionMode", "backoffLimit", "activeDeadlineSeconds",
           "ttlSecondsAfterFinished", "suspend"});
  PodTemplate(w, spec);
}

void JobStatus(W& w, const Value& status) {
  Scalars(w, status, {"active", "ready", "succeeded", "failed", "startTime", "completionTime"});
  Conditions(w, status);
}

void CronJobSpec(W& w, const Value& spec) {
  Scalars(w, spec,
          {"schedule", "timeZone", "suspend", "concurrencyPolicy", "startingDeadlineSeconds",
           "successfulJobsHistoryLimit", "failedJobsHistoryLimit"});
  Object(w, spec, "jobTemplate", [&](const Value& t) {
    TemplateMetadata(w, t);
    Object(w, t, "spec", [&](const Value& s) { JobSpec(w, s); });
  });
}

void CronJobStatus(W& w, const Value& status) {
  Scalars(w, status, {"lastScheduleTime", "lastSuccessfulTime"});
  ObjectArray(w, status, "active", [&](const Value& r) {
    Scalars(w, r, {"namespace", "name", "uid"});
  });
}

// ---------------------------------------------------------------- networking

void ServiceSpec(W& w, const Value& spec) {
  Scalars(w, spec, {"type", "clusterIP"});
  StringArray(w, spec, "clusterIPs");
  StringArray(w, spec, "externalIPs");
  Scalars(w, spec, {"externalName", "loadBalancerIP"});
  ObjectArray(w, spec, "ports", [&](const Value& p) {
    Scalars(w, p, {"name", "appProtocol", "port", "targetPort", "nodePort"});
    NonDefault(w, p, "protocol", "TCP");
  });
  Sorted(w, spec, "selector");
  Scalars(w, spec, {"externalTrafficPolicy", "internalTrafficPolicy", "sessionAffinity"});
}

void ServiceStatus(W& w, const Value& status) { Sorted(w, status, "loadBalancer"); }

void FullSpec(W& w, const Value& spec) {
  ForSorted(spec, [&](const Value::Member& m) {
    if (IsEmpty(m.value)) return;
    Key(w, View(m.name));
    WriteSorted(w, m.value);
  });
}

// ---------------------------------------------------------------- storage

void PvcSpec(W& w, const Value& spec) {
  StringArray(w, spec, "accessModes");
  Scalars(w, spec, {"storageClassName", "volumeName", "volumeMode"});
  Sorted(w, spec, "resources");
}

void PvcStatus(W& w, const Value& status) {
  Scalar(w, status, "phase");
  Sorted(w, status, "capacity");
  StringArray(w, status, "accessModes");
}

void PvSpec(W& w, const Value& spec) {
  Sorted(w, spec, "capacity");
  StringArray(w, spec, "accessModes");
  Scalars(w, spec, {"storageClassName", "persistentVolumeReclaimPolicy", "volumeMode"});
  Object(w, spec, "claimRef", [&](const Value& r) { Scalars(w, r, {"namespace", "name", "uid"}); });
  // The volume source is the one object member that is not one of the
  // common fields.
  for (const auto& m : spec.GetObject()) {
    const std::string_view name = View(m.name);
    if (!m.value.IsObject() || name == "capacity" || name == "claimRef" || name == "nodeAffinity") {
      continue;
    }
    Key(w, "source");
    w.StartObject();
    Key(w, "type");
    Str(w, name);
    Scalars(w, m.value, {"path", "driver", "server"});
    w.EndObject();
    break;
  }
}

void PvStatus(W& w, const Value& status) { Scalars(w, status, {"phase", "reason"}); }

// ---------------------------------------------------------------- others

void HpaSpec(W& w, const Value& spec) {
  Sorted(w, spec, "scaleTargetRef");
  Scalars(w, spec, {"minReplicas", "maxReplicas"});
  Sorted(w, spec, "metrics");
}

void HpaStatus(W& w, const Value& status) {
  Scalars(w, status, {"observedGeneration", "currentReplicas", "desiredReplicas", "lastScaleTime"});
  Sorted(w, status, "currentMetrics");
  Conditions(w, status);
}

// What the PDB checks read (selector, minAvailable, maxUnavailable) and how
// many disruptions the budget allows now.
void PdbSpec(W& w, const Value& spec) {
  Scalars(w, spec, {"minAvailable", "maxUnavailable", "unhealthyPodEvictionPolicy"});
  Sorted(w, spec, "selector");
}

void PdbStatus(W& w, const Value& status) {
  Scalars(w, status, {"observedGeneration", "disruptionsAllowed", "currentHealthy",
                      "desiredHealthy", "expectedPods"});
  Conditions(w, status);
}

void NodeSpec(W& w, const Value& spec) {
  Scalars(w, spec, {"podCIDR"});
  StringArray(w, spec, "podCIDRs");
  Scalars(w, spec, {"providerID", "unschedulable"});
  ObjectArray(w, spec, "taints", [&](const Value& t) {
    Scalars(w, t, {"key", "value", "effect"});
  });
}

void NodeStatus(W& w, const Value& status) {
  // Not status.images (hundreds of entries per node), volumesInUse (churn),
  // nor condition heartbeats (every 10 s to 1 min on every node).
  Sorted(w, status, "capacity");
  Sorted(w, status, "allocatable");
  Conditions(w, status);
  ObjectArray(w, status, "addresses", [&](const Value& a) { Scalars(w, a, {"type", "address"}); });
  Sorted(w, status, "nodeInfo");
}

void NamespaceStatus(W& w, const Value& status) { Scalar(w, status, "phase"); }

// ---------------------------------------------------------------- table

// A part of the object: (writer, the part — spec, status or the whole object
// — and the whole object, for parts that look across, like a pod's status
// at its spec).
using Part = void (*)(W&, const Value&, const Value&);
template <void (*F)(W&, const Value&)>
void P(W& w, const Value& part, const Value&) {
  F(w, part);
}

// How one kind is written: spec and status parts (nullptr: not written) and
// `top`, for kinds whose payload sits beside metadata (RBAC, ServiceAccount,
// ConfigMap).
struct Projector {
  Part spec;
  Part status;
  Part top;
};

void ServiceAccountTop(W& w, const Value& o) {
  Scalar(w, o, "automountServiceAccountToken");
  ObjectArray(w, o, "secrets", [&](const Value& s) { Scalar(w, s, "name"); });
  ObjectArray(w, o, "imagePullSecrets", [&](const Value& s) { Scalar(w, s, "name"); });
}

void RoleTop(W& w, const Value& o) {
  Sorted(w, o, "rules");
  Sorted(w, o, "aggregationRule");
}

void BindingTop(W& w, const Value& o) {
  Sorted(w, o, "roleRef");
  Sorted(w, o, "subjects");
}

void ConfigMapTop(W& w, const Value& o) {
  // Metadata only: the names of the keys, never their contents.
  Scalar(w, o, "immutable");
  std::vector<std::string_view> keys;
  for (std::string_view field : {"data", "binaryData"}) {
    if (const Value* d = GetObject(o, field)) {
      for (const auto& m : d->GetObject()) keys.push_back(View(m.name));
    }
  }
  if (keys.empty()) return;
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  Key(w, "dataKeys");
  w.StartArray();
  for (auto k : keys) Str(w, k);
  w.EndArray();
  // The verdict of sensitive-configmap-content on the values, which never
  // leave this function: the keys whose value holds a private key.
  std::vector<std::string_view> with_key;
  if (const Value* d = GetObject(o, "data")) {
    for (const auto& m : d->GetObject()) {
      if (m.value.IsString() && scan::HoldsPrivateKey(View(m.value))) with_key.push_back(View(m.name));
    }
  }
  if (with_key.empty()) return;
  std::sort(with_key.begin(), with_key.end());
  Key(w, "privateKeyKeys");
  w.StartArray();
  for (auto k : with_key) Str(w, k);
  w.EndArray();
}

struct KindEntry {
  CollectedKind kind;
  Projector projector;
};

const std::vector<KindEntry>& Entries() {
  static const std::vector<KindEntry> entries = {
      {{"v1", "Node", "nodes", false}, {P<NodeSpec>, P<NodeStatus>, nullptr}},
      {{"v1", "Namespace", "namespaces", false}, {nullptr, P<NamespaceStatus>, nullptr}},
      {{"v1", "Pod", "pods", true}, {P<PodSpec>, PodStatus, nullptr}},
      {{"apps/v1", "Deployment", "deployments", true},
       {P<WorkloadSpec>, P<WorkloadStatus>, nullptr}},
      {{"apps/v1", "ReplicaSet", "replicasets", true},
       {P<WorkloadSpec>, P<WorkloadStatus>, nullptr}},
      {{"apps/v1", "StatefulSet", "statefulsets", true},
       {P<WorkloadSpec>, P<WorkloadStatus>, nullptr}},
      {{"apps/v1", "DaemonSet", "daemonsets", true}, {P<WorkloadSpec>, P<WorkloadStatus>, nullptr}},
      {{"batch/v1", "Job", "jobs", true}, {P<JobSpec>, P<JobStatus>, nullptr}},
      {{"batch/v1", "CronJob", "cronjobs", true}, {P<CronJobSpec>, P<CronJobStatus>, nullptr}},
      {{"v1", "Service", "services", true}, {P<ServiceSpec>, P<ServiceStatus>, nullptr}},
      {{"networking.k8s.io/v1", "Ingress", "ingresses", true}, {P<FullSpec>, P<FullSpec>, nullptr}},
      {{"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true},
       {P<FullSpec>, nullptr, nullptr}},
      {{"v1", "PersistentVolumeClaim", "persistentvolumeclaims", true},
       {P<PvcSpec>, P<PvcStatus>, nullptr}},
      {{"v1", "PersistentVolume", "persistentvolumes", false}, {P<PvSpec>, P<PvStatus>, nullptr}},
      {{"autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true},
       {P<HpaSpec>, P<HpaStatus>, nullptr}},
      {{"policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", true},
       {P<PdbSpec>, P<PdbStatus>, nullptr}},
      {{"v1", "ServiceAccount", "serviceaccounts", true}, {nullptr, nullptr, P<ServiceAccountTop>}},
      {{"rbac.authorization.k8s.io/v1", "Role", "roles", true}, {nullptr, nullptr, P<RoleTop>}},
      {{"rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false},
       {nullptr, nullptr, P<RoleTop>}},
      {{"rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true},
       {nullptr, nullptr, P<BindingTop>}},
      {{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false},
       {nullptr, nullptr, P<BindingTop>}},
      {{"v1", "ConfigMap", "configmaps", true}, {nullptr, nullptr, P<ConfigMapTop>}},
  };
  return entries;
}

const KindEntry* FindEntry(std::string_view kind) {
  for (const auto& e : Entries()) {
    if (e.kind.kind == kind) return &e;
  }
  return nullptr;
}

// ---------------------------------------------------------------- events

// The first member of `keys` that is a non-empty string.
std::string_view FirstString(const Value& obj, std::initializer_list<std::string_view> keys) {
  for (auto k : keys) {
    auto s = GetStr(obj, k);
    if (!s.empty()) return s;
  }
  return {};
}

void StrMember(W& w, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  Key(w, key);
  Str(w, value);
}

// At most `max` bytes, never cutting a UTF-8 sequence in half.
std::string_view TruncateUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

const std::vector<CollectedKind>& CollectedKinds() {
  static const std::vector<CollectedKind> kinds = [] {
    std::vector<CollectedKind> out;
    for (const auto& e : Entries()) out.push_back(e.kind);
    return out;
  }();
  return kinds;
}

const CollectedKind* FindCollectedKind(std::string_view kind) {
  // A pointer into CollectedKinds(), so callers may compare or store it.
  const KindEntry* e = FindEntry(kind);
  return e ? &CollectedKinds()[static_cast<size_t>(e - Entries().data())] : nullptr;
}

std::optional<std::string> Project(std::string_view kind, const rapidjson::Value& object) {
  const KindEntry* entry = FindEntry(kind);
  if (!entry || !object.IsObject()) return std::nullopt;
  const Value* meta = GetObject(object, "metadata");
  if (!meta || GetStr(*meta, "name").empty()) return std::nullopt;

  Scratch& scratch = ThreadScratch();
  W& w = scratch.Begin();
  w.StartObject();
  Metadata(w, *meta);
  const Projector& p = entry->projector;
  if (p.top) p.top(w, object, object);
  if (p.spec) Object(w, object, "spec", [&](const Value& s) { p.spec(w, s, object); });
  if (p.status) Object(w, object, "status", [&](const Value& s) { p.status(w, s, object); });
  w.EndObject();
  return scratch.Take();
}

std::optional<std::string> ProjectEvent(const rapidjson::Value& event) {
  if (!event.IsObject()) return std::nullopt;
  const Value* meta = GetObject(event, "metadata");
  if (!meta) return std::nullopt;
  const std::string_view uid = GetStr(*meta, "uid");
  const std::string_view ns = GetStr(*meta, "namespace");
  if (uid.empty() || ns.empty()) return std::nullopt;

  // events.k8s.io/v1 renamed core/v1's fields (involvedObject → regarding,
  // message → note, count → series.count or deprecatedCount, ...); both
  // readings are tried so either API group gives the same record.
  static const Value kEmpty(rapidjson::kObjectType);
  const Value* series = GetObject(event, "series");
  const Value& s = series ? *series : kEmpty;

  int64_t count = 1;
  for (const Value* c : {Get(s, "count"), Get(event, "deprecatedCount"), Get(event, "count")}) {
    if (c && c->IsInt64() && c->GetInt64() > 0) {
      count = c->GetInt64();
      break;
    }
  }
  std::string_view first =
      FirstString(event, {"firstTimestamp", "deprecatedFirstTimestamp", "eventTime"});
  if (first.empty()) first = GetStr(*meta, "creationTimestamp");
  std::string_view last = GetStr(s, "lastObservedTime");
  if (last.empty())
    last = FirstString(event, {"eventTime", "lastTimestamp", "deprecatedLastTimestamp"});
  if (last.empty()) last = first;

  std::string_view controller = FirstString(event, {"reportingController", "reportingComponent"});
  if (controller.empty()) {
    if (const Value* source = GetObject(event, "source")) controller = GetStr(*source, "component");
  }
  const Value* regarding = GetObject(event, "regarding");
  if (!regarding) regarding = GetObject(event, "involvedObject");

  Scratch& scratch = ThreadScratch();
  W& w = scratch.Begin();
  w.StartObject();
  StrMember(w, "uid", uid);
  StrMember(w, "namespace", ns);
  StrMember(w, "name", GetStr(*meta, "name"));
  StrMember(w, "type", GetStr(event, "type"));
  StrMember(w, "reason", GetStr(event, "reason"));
  StrMember(w, "message",
            TruncateUtf8(FirstString(event, {"note", "message"}), kMaxEventMessageBytes));
  Key(w, "count");
  w.Int64(count);
  StrMember(w, "firstTimestamp", first);
  StrMember(w, "lastTimestamp", last);
  if (regarding) {
    Key(w, "regarding");
    w.StartObject();
    Scalars(w, *regarding, {"kind", "namespace", "name", "uid"});
    w.EndObject();
  }
  StrMember(w, "reportingController", controller);
  StrMember(w, "action", GetStr(event, "action"));
  w.EndObject();
  return scratch.Take();
}

}  // namespace srexpert::stream
