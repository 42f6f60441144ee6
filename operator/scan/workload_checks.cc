// Polaris' pod and container checks (security, reliability, efficiency),
// each with the pass/fail Polaris gives the same object. Polaris validates
// typed Kubernetes structs marshalled back to JSON, so a field of the wrong
// type counts as absent here, and empty strings as unset (omitempty).
#include <array>

#include "scan/context.h"
#include "scan/json_access.h"

namespace srexpert::scan {

namespace {

bool IsJobKind(std::string_view kind) { return kind == "Job" || kind == "CronJob"; }

// ---- pod checks -------------------------------------------------------------------

bool HostPathUnset(const JsonValue* spec) {
  const JsonValue* vols = Arr(Get(spec, "volumes"));
  if (!vols) return true;
  for (const auto& v : vols->GetArray()) {
    // Manifests carry the source object; the leader's projection its "type".
    if (Obj(Get(v, "hostPath")) || Str(Get(v, "type")) == "hostPath") return false;
  }
  return true;
}

bool HostProcessUnset(const JsonValue* spec) {
  if (IsTrue(Path(spec, {"securityContext", "windowsOptions", "hostProcess"}))) return false;
  const JsonValue* containers = Arr(Get(spec, "containers"));
  if (containers) {
    for (const auto& c : containers->GetArray()) {
      if (IsTrue(Path(&c, {"securityContext", "windowsOptions", "hostProcess"}))) return false;
    }
  }
  return true;
}

bool ProcMountDefault(const JsonValue* spec) {
  const JsonValue* containers = Arr(Get(spec, "containers"));
  if (!containers) return true;
  for (const auto& c : containers->GetArray()) {
    const JsonValue* pm = Path(&c, {"securityContext", "procMount"});
    if (IsString(pm) && Str(pm) != "Default") return false;
  }
  return true;
}

// automountServiceAccountToken with Polaris' ServiceAccount lookup: the pod
// must not set true, and a ServiceAccount in the namespace must either exist
// (pod sets false) or be the pod's and set false itself.
bool TokenNotAutomounted(const ScanContext& ctx, const Object& o, const JsonValue* spec,
                         std::string* message) {
  const JsonValue* pod_setting = Get(spec, "automountServiceAccountToken");
  if (IsTrue(pod_setting)) return false;
  bool pod_false = IsFalse(pod_setting);
  std::string_view sa_name = Str(Get(spec, "serviceAccountName"));
  const auto& sas = ctx.inventory.InNamespace("ServiceAccount", o.ref.ns);
  for (uint32_t i : sas) {
    if (pod_false) return true;
    const Object& sa = ctx.inventory.at(i);
    if (!sa_name.empty() && sa.ref.name == sa_name && IsFalse(Get(sa.value, "automountServiceAccountToken"))) {
      return true;
    }
  }
  if (pod_false) {
    *message = "No ServiceAccount of the namespace was scanned to confirm the token is not mounted";
  } else if (sa_name.empty()) {
    *message = "The pod names no ServiceAccount and does not set automountServiceAccountToken: false";
  } else {
    *message = "Neither the pod nor ServiceAccount " + std::string(sa_name) +
               " sets automountServiceAccountToken: false";
  }
  return false;
}

// ---- container checks ---------------------------------------------------------------

bool NoHostPort(const JsonValue& c) {
  const JsonValue* ports = Arr(Get(c, "ports"));
  if (!ports) return true;
  for (const auto& p : ports->GetArray()) {
    auto hp = Int(Get(p, "hostPort"));
    if (hp && *hp != 0) return false;
  }
  return true;
}

bool GoodRunAsContext(const JsonValue* sc) {
  if (!sc) return false;
  auto user = Int(Get(sc, "runAsUser"));
  return (user && *user >= 1) || IsTrue(Get(sc, "runAsNonRoot"));
}
bool NotBadRunAsContext(const JsonValue* sc) {
  if (!sc) return true;
  auto user = Int(Get(sc, "runAsUser"));
  if (Get(sc, "runAsUser") && !(user && *user >= 1)) return false;
  if (IsBool(Get(sc, "runAsNonRoot")) && !IsTrue(Get(sc, "runAsNonRoot"))) return false;
  return true;
}
// runAsRootAllowed: the pod's securityContext is good and the container's
// does not undo it, or the container's own is good.
bool NotRunAsRoot(const JsonValue* pod_sc, const JsonValue& c) {
  const JsonValue* sc = Obj(Get(c, "securityContext"));
  return (pod_sc && GoodRunAsContext(pod_sc) && NotBadRunAsContext(sc)) || GoodRunAsContext(sc);
}

bool NoDangerousCapabilities(const JsonValue& c) {
  const JsonValue* add = Arr(Path(&c, {"securityContext", "capabilities", "add"}));
  for (std::string_view cap : {"ALL", "SYS_ADMIN", "NET_ADMIN"}) {
    if (ArrayContainsIgnoreCase(add, cap)) return false;
  }
  return true;
}

// insecureCapabilities: drop must contain ALL, or else every one of the
// runtime's default capabilities plus NET_ADMIN — exactly one of the two
// (Polaris' oneOf: a list with ALL and all fifteen fails).
bool InsecureCapabilitiesDropped(const JsonValue& c) {
  static constexpr std::array<std::string_view, 15> kDefaults = {
      "NET_ADMIN", "CHOWN",  "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
      "SETUID",    "SETFCAP", "SETPCAP",     "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"};
  const JsonValue* drop = Arr(Path(&c, {"securityContext", "capabilities", "drop"}));
  if (!drop) return false;
  bool all = ArrayContainsIgnoreCase(drop, "ALL");
  bool each = true;
  for (std::string_view cap : kDefaults) each &= ArrayContainsIgnoreCase(drop, cap);
  return all != each;
}

bool LinuxHardened(const JsonValue* tmpl_meta, const JsonValue* pod_sc, const JsonValue& c) {
  std::string_view name = Str(Get(c, "name"));
  const JsonValue* annotations = Obj(Get(tmpl_meta, "annotations"));
  if (annotations) {
    std::string key = "container.apparmor.security.beta.kubernetes.io/" + std::string(name);
    if (!Str(Get(annotations, key)).empty()) return true;
  }
  const JsonValue* sc = Obj(Get(c, "securityContext"));
  // Seccomp: without a confining pod-level type the container needs its own
  // non-empty, non-Unconfined type; with one it must not set Unconfined.
  std::string_view pod_type = Str(Path(pod_sc, {"seccompProfile", "type"}));
  bool pod_confines = !pod_type.empty() && pod_type != "Unconfined";
  const JsonValue* type = Path(sc, {"seccompProfile", "type"});
  bool seccomp = pod_confines ? !(IsString(type) && Str(type) == "Unconfined")
                              : (IsString(type) && !Str(type).empty() && Str(type) != "Unconfined");
  if (seccomp) return true;
  // SELinux: options at pod level, or non-empty ones on the container.
  if (Size(Obj(Get(pod_sc, "seLinuxOptions"))) > 0) return true;
  if (Size(Obj(Get(sc, "seLinuxOptions"))) > 0) return true;
  // Capabilities: some dropped, none of the added is ALL.
  const JsonValue* caps = Obj(Get(sc, "capabilities"));
  const JsonValue* drop = Arr(Get(caps, "drop"));
  if (drop && drop->Size() >= 1) {
    const JsonValue* add = Get(caps, "add");
    if (add && !add->IsArray()) return false;
    return !ArrayContainsIgnoreCase(Arr(add), "ALL");
  }
  return false;
}

// tagNotSpecified: ^.+:.+$ and not ^.+:latest$.
bool ImageTagged(const JsonValue& c) {
  const JsonValue* image = Get(c, "image");
  if (!IsString(image)) return false;
  std::string_view s = Str(image);
  if (s.find('\n') != std::string_view::npos) return false;
  bool tagged = false;
  for (size_t i = 1; i + 1 < s.size(); ++i) tagged |= s[i] == ':';
  bool latest = s.size() > 7 && s.substr(s.size() - 7) == ":latest";
  return tagged && !latest;
}

bool ResourceSet(const JsonValue& c, std::string_view section, std::string_view resource) {
  const JsonValue* v = Path(&c, {"resources", section, resource});
  if (v == nullptr) return false;
  if (v->IsNumber()) return true;  // a Quantity marshals as a string either way
  return IsString(v) && !Str(v).empty();
}

void ContainerChecks(ScanContext& ctx, uint32_t w, const JsonValue* tmpl_meta, const JsonValue* spec,
                     const JsonValue& c, bool init) {
  Emitter& e = ctx.emit;
  std::string_view name = Str(Get(c, "name"));
  const std::string& kind = ctx.inventory.at(w).ref.kind;
  const JsonValue* pod_sc = Obj(Get(spec, "securityContext"));
  const JsonValue* sc = Obj(Get(c, "securityContext"));

  e.Emit(CheckId::kHostPort, w, name, NoHostPort(c));
  e.Emit(CheckId::kPrivileged, w, name, !IsTrue(Get(sc, "privileged")));
  e.Emit(CheckId::kRunAsRoot, w, name, NotRunAsRoot(pod_sc, c));
  e.Emit(CheckId::kPrivilegeEscalation, w, name, IsFalse(Get(sc, "allowPrivilegeEscalation")));
  e.Emit(CheckId::kReadOnlyRootFilesystem, w, name, IsTrue(Get(sc, "readOnlyRootFilesystem")));
  e.Emit(CheckId::kDangerousCapabilities, w, name, NoDangerousCapabilities(c));
  e.Emit(CheckId::kInsecureCapabilities, w, name, InsecureCapabilitiesDropped(c));
  if (e.Enabled(CheckId::kLinuxHardening)) {
    e.Emit(CheckId::kLinuxHardening, w, name, LinuxHardened(tmpl_meta, pod_sc, c));
  }
  e.Emit(CheckId::kImageTag, w, name, ImageTagged(c));
  e.Emit(CheckId::kImagePullPolicy, w, name, Str(Get(c, "imagePullPolicy")) == "Always");
  if (init) return;
  if (!IsJobKind(kind)) {
    // Manifests carry the probe; the leader's projection {"probes":{"readiness":"httpGet"}}.
    e.Emit(CheckId::kReadinessProbe, w, name,
           Obj(Get(c, "readinessProbe")) != nullptr || IsString(Path(&c, {"probes", "readiness"})));
    e.Emit(CheckId::kLivenessProbe, w, name,
           Obj(Get(c, "livenessProbe")) != nullptr || IsString(Path(&c, {"probes", "liveness"})));
  }
  e.Emit(CheckId::kCpuRequests, w, name, ResourceSet(c, "requests", "cpu"));
  e.Emit(CheckId::kCpuLimits, w, name, ResourceSet(c, "limits", "cpu"));
  e.Emit(CheckId::kMemoryRequests, w, name, ResourceSet(c, "requests", "memory"));
  e.Emit(CheckId::kMemoryLimits, w, name, ResourceSet(c, "limits", "memory"));
}

}  // namespace

void RunWorkloadChecks(ScanContext& ctx) {
  Emitter& e = ctx.emit;
  for (uint32_t w : ctx.inventory.workloads()) {
    const Object& o = ctx.inventory.at(w);
    const PodTemplate& t = ctx.inventory.pod_template(w);
    const JsonValue* spec = t.spec;
    e.Emit(CheckId::kHostIpc, w, "", !IsTrue(Get(spec, "hostIPC")));
    e.Emit(CheckId::kHostPid, w, "", !IsTrue(Get(spec, "hostPID")));
    e.Emit(CheckId::kHostNetwork, w, "", !IsTrue(Get(spec, "hostNetwork")));
    e.Emit(CheckId::kHostPath, w, "", HostPathUnset(spec));
    e.Emit(CheckId::kHostProcess, w, "", HostProcessUnset(spec));
    e.Emit(CheckId::kProcMount, w, "", ProcMountDefault(spec));
    if (e.Enabled(CheckId::kServiceAccountTokenAutomount)) {
      std::string message;
      bool ok = TokenNotAutomounted(ctx, o, spec, &message);
      e.Emit(CheckId::kServiceAccountTokenAutomount, w, "", ok, std::move(message));
    }
    if (!IsJobKind(o.ref.kind)) {
      e.Emit(CheckId::kTopologySpread, w, "", Size(Arr(Get(spec, "topologySpreadConstraints"))) >= 1);
    }
    e.Emit(CheckId::kPriorityClass, w, "", !Str(Get(spec, "priorityClassName")).empty());
    for (std::string_view list : {"initContainers", "containers"}) {
      const JsonValue* containers = Arr(Get(spec, list));
      if (!containers) continue;
      for (const auto& c : containers->GetArray()) {
        if (c.IsObject()) ContainerChecks(ctx, w, t.metadata, spec, c, list == "initContainers");
      }
    }
  }
}

}  // namespace srexpert::scan
