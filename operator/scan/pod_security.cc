#include "scan/pod_security.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <set>

#include "scan/json_access.h"
#include "scan/object.h"

namespace srexpert::scan {

namespace {

// ---- the pod as admission sees it ----------------------------------------

// A container's view: the fields admission reads, after the API server's
// preparation (dropped fields of disabled features, seccomp sync).
struct ContainerView {
  std::string_view name;
  const JsonValue* sc = nullptr;  // securityContext object or null
  const JsonValue* c = nullptr;   // the container
  ContainerList list = ContainerList::kRegular;
  // Seccomp type after the sync ("" when unset).
  std::string_view seccomp_type;
  bool seccomp_set = false;
};

struct PodView {
  const JsonValue* meta = nullptr;
  const JsonValue* spec = nullptr;
  const JsonValue* sc = nullptr;  // pod securityContext
  std::vector<ContainerView> containers;
  bool windows = false;
  bool host_users_false = false;
  bool proc_mount_dropped = false;     // ProcMountType disabled on this server
  bool apparmor_fields = false;        // the server knows securityContext.appArmorProfile
  bool image_volumes = false;          // restricted allows image volumes
  bool default_host_ports = false;     // hostPort defaults to containerPort (hostNetwork)
  // Pod-level seccomp after sync.
  std::string_view pod_seccomp_type;
  bool pod_seccomp_set = false;
  // Seccomp annotations after sync: pod and per container name.
  std::string pod_seccomp_annotation;
  bool pod_seccomp_annotation_set = false;
  std::vector<std::pair<std::string, std::string>> container_seccomp_annotations;
};

constexpr std::string_view kSeccompPodAnnotation = "seccomp.security.alpha.kubernetes.io/pod";
constexpr std::string_view kSeccompContainerPrefix = "container.seccomp.security.alpha.kubernetes.io/";
constexpr std::string_view kAppArmorPrefix = "container.apparmor.security.beta.kubernetes.io/";

std::string_view AnnotationValue(const JsonValue* meta, std::string_view key, bool* present) {
  const JsonValue* v = Get(Get(meta, "annotations"), key);
  *present = IsString(v);
  return Str(v);
}

// Field type for a seccomp annotation value; "" when the value maps to none.
std::string_view SeccompAnnotationToField(std::string_view value) {
  if (value == "runtime/default" || value == "docker/default") return "RuntimeDefault";
  if (value == "unconfined") return "Unconfined";
  if (value.rfind("localhost/", 0) == 0) return "Localhost";
  return "";
}

PodView MakeView(const PssPod& pod, const PssEnvironment& env) {
  PodView v;
  v.meta = pod.metadata;
  v.spec = pod.spec;
  v.sc = Obj(Get(pod.spec, "securityContext"));
  v.windows = Str(Path(pod.spec, {"os", "name"})) == "windows";
  const int k = env.kubernetes_minor;
  // Feature gates of the emulated server: ProcMountType and
  // UserNamespacesSupport are on by default from 1.33; fields of disabled
  // features are dropped before admission.
  v.proc_mount_dropped = k < 33;
  v.host_users_false = k >= 33 && IsFalse(Get(pod.spec, "hostUsers"));
  v.apparmor_fields = k >= 30;
  v.image_volumes = k >= 33;

  const JsonValue* pod_profile = Obj(Get(v.sc, "seccompProfile"));
  v.pod_seccomp_set = pod_profile != nullptr;
  v.pod_seccomp_type = Str(Get(pod_profile, "type"));
  v.pod_seccomp_annotation =
      std::string(AnnotationValue(pod.metadata, kSeccompPodAnnotation, &v.pod_seccomp_annotation_set));

  ForEachContainer(pod.spec, [&](const JsonValue& c, ContainerList list) {
    ContainerView cv;
    cv.c = &c;
    cv.list = list;
    cv.name = Str(Get(c, "name"));
    cv.sc = Obj(Get(c, "securityContext"));
    const JsonValue* profile = Obj(Get(cv.sc, "seccompProfile"));
    cv.seccomp_set = profile != nullptr;
    cv.seccomp_type = Str(Get(profile, "type"));
    v.containers.push_back(cv);
  });
  const JsonValue* annotations = Obj(Get(pod.metadata, "annotations"));
  if (annotations) {
    for (const auto& m : annotations->GetObject()) {
      std::string_view key = View(m.name);
      if (key.rfind(kSeccompContainerPrefix, 0) == 0 && m.value.IsString()) {
        v.container_seccomp_annotations.emplace_back(
            std::string(key.substr(kSeccompContainerPrefix.size())), std::string(View(m.value)));
      }
    }
  }

  // Servers 1.19-1.26 copy the deprecated seccomp annotations of a new
  // (non-Windows) Pod into seccompProfile fields that are unset, in
  // PrepareForCreate, before validating admission runs (the copy the other
  // way was dropped in 1.25; the whole sync is gone from later servers).
  // Workload templates are not synced.
  if (pod.is_pod && k >= 19 && k <= 26 && !v.windows) {
    if (!v.pod_seccomp_set && v.pod_seccomp_annotation_set) {
      std::string_view t = SeccompAnnotationToField(v.pod_seccomp_annotation);
      if (!t.empty()) {
        v.pod_seccomp_set = true;
        v.pod_seccomp_type = t;
      }
    }
    for (ContainerView& cv : v.containers) {
      auto it = std::find_if(v.container_seccomp_annotations.begin(),
                             v.container_seccomp_annotations.end(),
                             [&](const auto& p) { return p.first == cv.name; });
      if (!cv.seccomp_set && it != v.container_seccomp_annotations.end()) {
        std::string_view t = SeccompAnnotationToField(it->second);
        if (!t.empty()) {
          cv.seccomp_set = true;
          cv.seccomp_type = t;
        }
      }
    }
  }
  // With hostNetwork the API server defaults each container port's hostPort
  // to its containerPort: in Pods always, in pod templates before 1.28.
  v.default_host_ports = IsTrue(Get(pod.spec, "hostNetwork")) && (pod.is_pod || k < 28);
  return v;
}

// ---- message helpers (as the admission writes them) ------------------------

std::string JoinQuote(const std::vector<std::string_view>& items) {
  if (items.empty()) return "";
  std::string out = "\"";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += "\", \"";
    out += items[i];
  }
  out += "\"";
  return out;
}
std::string JoinQuote(const std::set<std::string>& items) {
  std::vector<std::string_view> v(items.begin(), items.end());
  return JoinQuote(v);
}
std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}
std::string_view Plural(std::string_view singular, std::string_view plural, size_t n) {
  return n == 1 ? singular : plural;
}
std::string Containers(const std::vector<std::string_view>& names) {
  return fmt::format("{} {}", Plural("container", "containers", names.size()), JoinQuote(names));
}

PssCheckResult Allowed(PssCheck c) { return {c, true, "", ""}; }
PssCheckResult Forbidden(PssCheck c, std::string reason, std::string detail) {
  return {c, false, std::move(reason), std::move(detail)};
}

// ---- the checks --------------------------------------------------------------

PssCheckResult HostNamespaces(const PodView& p) {
  std::vector<std::string> set;  // sorted names
  if (IsTrue(Get(p.spec, "hostIPC"))) set.push_back("hostIPC=true");
  if (IsTrue(Get(p.spec, "hostNetwork"))) set.push_back("hostNetwork=true");
  if (IsTrue(Get(p.spec, "hostPID"))) set.push_back("hostPID=true");
  if (set.empty()) return Allowed(PssCheck::kHostNamespaces);
  return Forbidden(PssCheck::kHostNamespaces, "host namespaces", Join(set, ", "));
}

PssCheckResult Privileged(const PodView& p) {
  std::vector<std::string_view> bad;
  for (const auto& c : p.containers) {
    if (IsTrue(Get(c.sc, "privileged"))) bad.push_back(c.name);
  }
  if (bad.empty()) return Allowed(PssCheck::kPrivileged);
  return Forbidden(PssCheck::kPrivileged, "privileged",
                   Containers(bad) + " must not set securityContext.privileged=true");
}

constexpr std::array<std::string_view, 13> kBaselineCapabilities = {
    "AUDIT_WRITE", "CHOWN",  "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",      "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"};

PssCheckResult CapabilitiesBaseline(const PodView& p) {
  std::vector<std::string_view> bad;
  std::set<std::string> caps;
  for (const auto& c : p.containers) {
    const JsonValue* add = Arr(Path(c.sc, {"capabilities", "add"}));
    if (!add) continue;
    bool valid = true;
    for (const auto& cap : add->GetArray()) {
      std::string_view name = cap.IsString() ? View(cap) : std::string_view();
      if (std::find(kBaselineCapabilities.begin(), kBaselineCapabilities.end(), name) ==
          kBaselineCapabilities.end()) {
        valid = false;
        caps.insert(std::string(name));
      }
    }
    if (!valid) bad.push_back(c.name);
  }
  if (bad.empty()) return Allowed(PssCheck::kCapabilitiesBaseline);
  return Forbidden(PssCheck::kCapabilitiesBaseline, "non-default capabilities",
                   Containers(bad) + " must not include " + JoinQuote(caps) +
                       " in securityContext.capabilities.add");
}

PssCheckResult HostPathVolumes(const PodView& p) {
  std::vector<std::string_view> names;
  const JsonValue* vols = Arr(Get(p.spec, "volumes"));
  if (vols) {
    for (const auto& vol : vols->GetArray()) {
      if (Obj(Get(vol, "hostPath")) || Str(Get(vol, "type")) == "hostPath") {
        names.push_back(Str(Get(vol, "name")));
      }
    }
  }
  if (names.empty()) return Allowed(PssCheck::kHostPathVolumes);
  return Forbidden(PssCheck::kHostPathVolumes, "hostPath volumes",
                   fmt::format("{} {}", Plural("volume", "volumes", names.size()), JoinQuote(names)));
}

PssCheckResult HostPorts(const PodView& p) {
  std::vector<std::string_view> bad;
  std::set<std::string> ports;  // sorted as strings, like the admission's string set
  for (const auto& c : p.containers) {
    const JsonValue* list = Arr(Get(c.c, "ports"));
    if (!list) continue;
    bool valid = true;
    bool defaults = p.default_host_ports && c.list != ContainerList::kEphemeral;
    for (const auto& port : list->GetArray()) {
      auto hp = Int(Get(port, "hostPort"));
      if ((!hp || *hp == 0) && defaults) hp = Int(Get(port, "containerPort"));
      if (hp && *hp != 0) {
        valid = false;
        ports.insert(std::to_string(*hp));
      }
    }
    if (!valid) bad.push_back(c.name);
  }
  if (bad.empty()) return Allowed(PssCheck::kHostPorts);
  std::vector<std::string> list(ports.begin(), ports.end());
  return Forbidden(PssCheck::kHostPorts, "hostPort",
                   fmt::format("{} {} {} {}", Containers(bad), Plural("uses", "use", bad.size()),
                               Plural("hostPort", "hostPorts", list.size()), Join(list, ", ")));
}

void ForbiddenHosts(const JsonValue* handler, std::set<std::string>* hosts, bool* bad) {
  for (std::string_view kind : {"httpGet", "tcpSocket"}) {
    std::string_view host = Str(Path(handler, {kind, "host"}));
    if (!host.empty()) {
      hosts->insert(std::string(host));
      *bad = true;
    }
  }
}

PssCheckResult HostProbes(const PodView& p) {
  std::set<std::string> bad_names;
  std::set<std::string> hosts;
  for (const auto& c : p.containers) {
    bool bad = false;
    for (std::string_view probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
      ForbiddenHosts(Obj(Get(c.c, probe)), &hosts, &bad);
    }
    for (std::string_view hook : {"postStart", "preStop"}) {
      ForbiddenHosts(Obj(Path(c.c, {"lifecycle", hook})), &hosts, &bad);
    }
    // The leader's projection keeps only the hosts (stream/projection.h).
    if (const JsonValue* projected = Arr(Get(c.c, "handlerHosts"))) {
      for (const auto& h : projected->GetArray()) {
        std::string_view host = Str(&h);
        if (host.empty()) continue;
        hosts.insert(std::string(host));
        bad = true;
      }
    }
    if (bad) bad_names.insert(std::string(c.name));
  }
  if (bad_names.empty()) return Allowed(PssCheck::kHostProbesAndHostLifecycle);
  return Forbidden(
      PssCheck::kHostProbesAndHostLifecycle, "probe or lifecycle host",
      fmt::format("{} {} {} {} {}", Plural("container", "containers", bad_names.size()),
                  JoinQuote(bad_names), Plural("uses", "use", bad_names.size()),
                  Plural("probe or lifecycle host", "probe or lifecycle hosts", hosts.size()),
                  JoinQuote(hosts)));
}

PssCheckResult AppArmor(const PodView& p) {
  std::vector<std::string> forbidden;
  const JsonValue* annotations = Obj(Get(p.meta, "annotations"));
  if (annotations) {
    for (const auto& m : annotations->GetObject()) {
      std::string_view key = View(m.name);
      if (key.rfind(kAppArmorPrefix, 0) != 0) continue;
      std::string_view value = Str(&m.value);
      bool ok = value.empty() || value == "runtime/default" || value.rfind("localhost/", 0) == 0;
      if (!ok) forbidden.push_back(fmt::format("{}=\"{}\"", key, value));
    }
  }
  std::vector<std::string> field_setters;
  std::set<std::string> field_values;
  if (p.apparmor_fields) {
    auto bad_type = [](const JsonValue* sc, std::string* type) {
      const JsonValue* profile = Obj(Get(sc, "appArmorProfile"));
      if (!profile) return false;
      std::string_view t = Str(Get(profile, "type"));
      if (t == "RuntimeDefault" || t == "Localhost") return false;
      *type = std::string(t);
      return true;
    };
    std::string t;
    if (bad_type(p.sc, &t)) {
      field_setters.push_back("pod");
      field_values.insert(t);
    }
    std::vector<std::string_view> bad;
    for (const auto& c : p.containers) {
      if (bad_type(c.sc, &t)) {
        bad.push_back(c.name);
        field_values.insert(t);
      }
    }
    if (!bad.empty()) field_setters.push_back(Containers(bad));
  }
  if (forbidden.empty() && field_setters.empty()) return Allowed(PssCheck::kAppArmorProfile);
  std::sort(forbidden.begin(), forbidden.end());
  std::vector<std::string> details;
  if (!field_setters.empty()) {
    details.push_back(fmt::format("{} must not set securityContext.appArmorProfile.type to {}",
                                  Join(field_setters, " and "), JoinQuote(field_values)));
  }
  if (!forbidden.empty()) details.push_back(Join(forbidden, ", "));
  size_t n = forbidden.size() + (field_setters.empty() ? 0 : 1);
  return Forbidden(PssCheck::kAppArmorProfile,
                   std::string(Plural("forbidden AppArmor profile", "forbidden AppArmor profiles", n)),
                   Join(details, ", "));
}

PssCheckResult SeLinux(const PodView& p, int minor) {
  std::set<std::string> bad_types;
  bool set_user = false, set_role = false;
  auto valid = [&](const JsonValue* opts) {
    bool ok = true;
    std::string_view type = Str(Get(opts, "type"));
    bool allowed = type.empty() || type == "container_t" || type == "container_init_t" ||
                   type == "container_kvm_t" || (minor >= 31 && type == "container_engine_t");
    if (!allowed) {
      ok = false;
      bad_types.insert(std::string(type));
    }
    if (!Str(Get(opts, "user")).empty()) {
      ok = false;
      set_user = true;
    }
    if (!Str(Get(opts, "role")).empty()) {
      ok = false;
      set_role = true;
    }
    return ok;
  };
  std::vector<std::string> setters;
  const JsonValue* pod_opts = Obj(Get(p.sc, "seLinuxOptions"));
  if (pod_opts && !valid(pod_opts)) setters.push_back("pod");
  std::vector<std::string_view> bad;
  for (const auto& c : p.containers) {
    const JsonValue* opts = Obj(Get(c.sc, "seLinuxOptions"));
    if (opts && !valid(opts)) bad.push_back(c.name);
  }
  if (!bad.empty()) setters.push_back(Containers(bad));
  if (setters.empty()) return Allowed(PssCheck::kSeLinuxOptions);
  std::vector<std::string> data;
  if (!bad_types.empty()) {
    data.push_back(fmt::format("{} {}", Plural("type", "types", bad_types.size()), JoinQuote(bad_types)));
  }
  if (set_user) data.push_back("user may not be set");
  if (set_role) data.push_back("role may not be set");
  return Forbidden(PssCheck::kSeLinuxOptions, "seLinuxOptions",
                   fmt::format("{} set forbidden securityContext.seLinuxOptions: {}",
                               Join(setters, " and "), Join(data, "; ")));
}

PssCheckResult ProcMountStrict(const PodView& p, PssCheck id) {
  std::vector<std::string_view> bad;
  std::set<std::string> types;
  if (!p.proc_mount_dropped) {
    for (const auto& c : p.containers) {
      const JsonValue* pm = Get(c.sc, "procMount");
      if (!IsString(pm)) continue;
      if (Str(pm) != "Default") {
        bad.push_back(c.name);
        types.insert(std::string(Str(pm)));
      }
    }
  }
  if (bad.empty()) return Allowed(id);
  return Forbidden(id, "procMount",
                   Containers(bad) + " must not set securityContext.procMount to " + JoinQuote(types));
}

bool ValidSeccompType(std::string_view t) { return t == "RuntimeDefault" || t == "Localhost"; }
bool ValidSeccompAnnotation(std::string_view v) {
  return v == "runtime/default" || v == "docker/default" || v.rfind("localhost/", 0) == 0;
}

PssCheckResult SeccompBaseline(const PodView& p, int minor) {
  if (minor < 19) {
    std::set<std::string> forbidden;
    if (p.pod_seccomp_annotation_set && !ValidSeccompAnnotation(p.pod_seccomp_annotation)) {
      forbidden.insert(fmt::format("{}=\"{}\"", kSeccompPodAnnotation, p.pod_seccomp_annotation));
    }
    for (const auto& c : p.containers) {
      for (const auto& [name, value] : p.container_seccomp_annotations) {
        if (name == c.name && !ValidSeccompAnnotation(value)) {
          forbidden.insert(fmt::format("{}{}=\"{}\"", kSeccompContainerPrefix, name, value));
        }
      }
    }
    if (forbidden.empty()) return Allowed(PssCheck::kSeccompProfileBaseline);
    std::vector<std::string> list(forbidden.begin(), forbidden.end());
    return Forbidden(PssCheck::kSeccompProfileBaseline, "seccompProfile",
                     fmt::format("forbidden {} {}", Plural("annotation", "annotations", list.size()),
                                 Join(list, ", ")));
  }
  std::vector<std::string> setters;
  std::set<std::string> values;
  if (p.pod_seccomp_set && !ValidSeccompType(p.pod_seccomp_type)) {
    setters.push_back("pod");
    values.insert(std::string(p.pod_seccomp_type));
  }
  std::vector<std::string_view> bad;
  for (const auto& c : p.containers) {
    if (c.seccomp_set && !ValidSeccompType(c.seccomp_type)) {
      bad.push_back(c.name);
      values.insert(std::string(c.seccomp_type));
    }
  }
  if (!bad.empty()) setters.push_back(Containers(bad));
  if (setters.empty()) return Allowed(PssCheck::kSeccompProfileBaseline);
  return Forbidden(PssCheck::kSeccompProfileBaseline, "seccompProfile",
                   fmt::format("{} must not set securityContext.seccompProfile.type to {}",
                               Join(setters, " and "), JoinQuote(values)));
}

bool SafeSysctl(std::string_view name, int minor) {
  static constexpr std::array<std::string_view, 5> k10 = {
      "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
      "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"};
  static constexpr std::array<std::string_view, 4> k129 = {
      "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
      "net.ipv4.tcp_keepalive_probes"};
  for (auto s : k10) {
    if (s == name) return true;
  }
  if (minor >= 27 && name == "net.ipv4.ip_local_reserved_ports") return true;
  if (minor >= 29) {
    for (auto s : k129) {
      if (s == name) return true;
    }
  }
  if (minor >= 32 && (name == "net.ipv4.tcp_rmem" || name == "net.ipv4.tcp_wmem")) return true;
  return false;
}

PssCheckResult Sysctls(const PodView& p, int minor) {
  std::vector<std::string> forbidden;
  const JsonValue* list = Arr(Get(p.sc, "sysctls"));
  if (list) {
    for (const auto& s : list->GetArray()) {
      std::string_view name = Str(Get(s, "name"));
      if (!SafeSysctl(name, minor)) forbidden.push_back(std::string(name));
    }
  }
  if (forbidden.empty()) return Allowed(PssCheck::kSysctls);
  return Forbidden(PssCheck::kSysctls, "forbidden sysctls", Join(forbidden, ", "));
}

PssCheckResult WindowsHostProcess(const PodView& p) {
  std::vector<std::string_view> bad;
  for (const auto& c : p.containers) {
    if (IsTrue(Path(c.sc, {"windowsOptions", "hostProcess"}))) bad.push_back(c.name);
  }
  std::vector<std::string> setters;
  if (IsTrue(Path(p.sc, {"windowsOptions", "hostProcess"}))) setters.push_back("pod");
  if (!bad.empty()) setters.push_back(Containers(bad));
  if (setters.empty()) return Allowed(PssCheck::kWindowsHostProcess);
  return Forbidden(PssCheck::kWindowsHostProcess, "hostProcess",
                   Join(setters, " and ") +
                       " must not set securityContext.windowsOptions.hostProcess=true");
}

PssCheckResult AllowPrivilegeEscalation(const PodView& p, int minor) {
  if (minor >= 25 && p.windows) return Allowed(PssCheck::kAllowPrivilegeEscalation);
  std::vector<std::string_view> bad;
  for (const auto& c : p.containers) {
    if (!IsFalse(Get(c.sc, "allowPrivilegeEscalation"))) bad.push_back(c.name);
  }
  if (bad.empty()) return Allowed(PssCheck::kAllowPrivilegeEscalation);
  return Forbidden(PssCheck::kAllowPrivilegeEscalation, "allowPrivilegeEscalation != false",
                   Containers(bad) + " must set securityContext.allowPrivilegeEscalation=false");
}

PssCheckResult CapabilitiesRestricted(const PodView& p, int minor) {
  if (minor >= 25 && p.windows) return Allowed(PssCheck::kCapabilitiesRestricted);
  std::vector<std::string_view> missing_drop, adding;
  std::set<std::string> caps;
  for (const auto& c : p.containers) {
    const JsonValue* capabilities = Obj(Get(c.sc, "capabilities"));
    if (!capabilities) {
      missing_drop.push_back(c.name);
      continue;
    }
    if (!Contains(Get(capabilities, "drop"), "ALL")) missing_drop.push_back(c.name);
    const JsonValue* add = Arr(Get(capabilities, "add"));
    bool bad = false;
    if (add) {
      for (const auto& cap : add->GetArray()) {
        std::string_view name = cap.IsString() ? View(cap) : std::string_view();
        if (name != "NET_BIND_SERVICE") {
          bad = true;
          caps.insert(std::string(name));
        }
      }
    }
    if (bad) adding.push_back(c.name);
  }
  std::vector<std::string> details;
  if (!missing_drop.empty()) {
    details.push_back(Containers(missing_drop) +
                      " must set securityContext.capabilities.drop=[\"ALL\"]");
  }
  if (!adding.empty()) {
    details.push_back(Containers(adding) + " must not include " + JoinQuote(caps) +
                      " in securityContext.capabilities.add");
  }
  if (details.empty()) return Allowed(PssCheck::kCapabilitiesRestricted);
  return Forbidden(PssCheck::kCapabilitiesRestricted, "unrestricted capabilities",
                   Join(details, "; "));
}

// The volume source of a volume: the one member besides "name" (the JSON
// field name, which is what admission reports), "unknown" when none.
std::string_view VolumeType(const JsonValue& vol) {
  if (!vol.IsObject()) return "unknown";
  for (const auto& m : vol.GetObject()) {
    std::string_view key = View(m.name);
    if (key != "name" && m.value.IsObject()) return key;
  }
  // The leader's projection names the source in "type".
  std::string_view projected = Str(Get(vol, "type"));
  return projected.empty() ? "unknown" : projected;
}

PssCheckResult RestrictedVolumes(const PodView& p) {
  static constexpr std::array<std::string_view, 8> kAllowed = {
      "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
      "projected", "secret"};
  std::vector<std::string_view> names;
  std::set<std::string> types;
  const JsonValue* vols = Arr(Get(p.spec, "volumes"));
  if (vols) {
    for (const auto& vol : vols->GetArray()) {
      std::string_view type = VolumeType(vol);
      bool ok = std::find(kAllowed.begin(), kAllowed.end(), type) != kAllowed.end() ||
                (p.image_volumes && type == "image");
      if (!ok) {
        names.push_back(Str(Get(vol, "name")));
        types.insert(std::string(type));
      }
    }
  }
  if (names.empty()) return Allowed(PssCheck::kRestrictedVolumes);
  return Forbidden(PssCheck::kRestrictedVolumes, "restricted volume types",
                   fmt::format("{} {} {} {} {}", Plural("volume", "volumes", names.size()),
                               JoinQuote(names), Plural("uses", "use", names.size()),
                               Plural("restricted volume type", "restricted volume types", types.size()),
                               JoinQuote(types)));
}

PssCheckResult RunAsNonRoot(const PodView& p, int minor) {
  if (minor >= 35 && p.host_users_false) return Allowed(PssCheck::kRunAsNonRoot);
  std::vector<std::string> setters;
  bool pod_true = false;
  const JsonValue* pod_v = Get(p.sc, "runAsNonRoot");
  if (IsBool(pod_v)) {
    if (!pod_v->GetBool()) setters.push_back("pod");
    else pod_true = true;
  }
  std::vector<std::string_view> explicit_bad, implicit_bad;
  for (const auto& c : p.containers) {
    const JsonValue* v = Get(c.sc, "runAsNonRoot");
    if (IsBool(v)) {
      if (!v->GetBool()) explicit_bad.push_back(c.name);
    } else if (!pod_true) {
      implicit_bad.push_back(c.name);
    }
  }
  if (!explicit_bad.empty()) setters.push_back(Containers(explicit_bad));
  if (!setters.empty()) {
    return Forbidden(PssCheck::kRunAsNonRoot, "runAsNonRoot != true",
                     Join(setters, " and ") + " must not set securityContext.runAsNonRoot=false");
  }
  if (!implicit_bad.empty()) {
    return Forbidden(PssCheck::kRunAsNonRoot, "runAsNonRoot != true",
                     "pod or " + Containers(implicit_bad) +
                         " must set securityContext.runAsNonRoot=true");
  }
  return Allowed(PssCheck::kRunAsNonRoot);
}

PssCheckResult RunAsUser(const PodView& p, int minor) {
  if (minor >= 35 && p.host_users_false) return Allowed(PssCheck::kRunAsUser);
  std::vector<std::string> setters;
  auto zero = [](const JsonValue* sc) {
    auto v = Int(Get(sc, "runAsUser"));
    return v && *v == 0;
  };
  if (zero(p.sc)) setters.push_back("pod");
  std::vector<std::string_view> bad;
  for (const auto& c : p.containers) {
    if (zero(c.sc)) bad.push_back(c.name);
  }
  if (!bad.empty()) setters.push_back(Containers(bad));
  if (setters.empty()) return Allowed(PssCheck::kRunAsUser);
  return Forbidden(PssCheck::kRunAsUser, "runAsUser=0",
                   Join(setters, " and ") + " must not set runAsUser=0");
}

PssCheckResult SeccompRestricted(const PodView& p, int minor) {
  if (minor >= 25 && p.windows) return Allowed(PssCheck::kSeccompProfileRestricted);
  std::vector<std::string> setters;
  std::set<std::string> values;
  bool pod_set = false;
  if (p.pod_seccomp_set) {
    if (!ValidSeccompType(p.pod_seccomp_type)) {
      setters.push_back("pod");
      values.insert(std::string(p.pod_seccomp_type));
    } else {
      pod_set = true;
    }
  }
  std::vector<std::string_view> explicit_bad, implicit_bad;
  for (const auto& c : p.containers) {
    if (c.seccomp_set) {
      if (!ValidSeccompType(c.seccomp_type)) {
        explicit_bad.push_back(c.name);
        values.insert(std::string(c.seccomp_type));
      }
    } else if (!pod_set) {
      implicit_bad.push_back(c.name);
    }
  }
  if (!explicit_bad.empty()) setters.push_back(Containers(explicit_bad));
  if (!setters.empty()) {
    return Forbidden(PssCheck::kSeccompProfileRestricted, "seccompProfile",
                     fmt::format("{} must not set securityContext.seccompProfile.type to {}",
                                 Join(setters, " and "), JoinQuote(values)));
  }
  if (!implicit_bad.empty()) {
    return Forbidden(PssCheck::kSeccompProfileRestricted, "seccompProfile",
                     "pod or " + Containers(implicit_bad) +
                         " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
                         "\"Localhost\"");
  }
  return Allowed(PssCheck::kSeccompProfileRestricted);
}

PssCheckResult Run(PssCheck check, const PodView& p, int minor) {
  switch (check) {
    case PssCheck::kAppArmorProfile: return AppArmor(p);
    case PssCheck::kCapabilitiesBaseline: return CapabilitiesBaseline(p);
    case PssCheck::kHostNamespaces: return HostNamespaces(p);
    case PssCheck::kHostPathVolumes: return HostPathVolumes(p);
    case PssCheck::kHostPorts: return HostPorts(p);
    case PssCheck::kHostProbesAndHostLifecycle: return HostProbes(p);
    case PssCheck::kPrivileged: return Privileged(p);
    case PssCheck::kProcMount:
      if (minor >= 35 && p.host_users_false) return Allowed(PssCheck::kProcMount);
      return ProcMountStrict(p, PssCheck::kProcMount);
    case PssCheck::kSeLinuxOptions: return SeLinux(p, minor);
    case PssCheck::kSeccompProfileBaseline: return SeccompBaseline(p, minor);
    case PssCheck::kSysctls: return Sysctls(p, minor);
    case PssCheck::kWindowsHostProcess: return WindowsHostProcess(p);
    case PssCheck::kAllowPrivilegeEscalation: return AllowPrivilegeEscalation(p, minor);
    case PssCheck::kCapabilitiesRestricted: return CapabilitiesRestricted(p, minor);
    case PssCheck::kProcMountRestricted: return ProcMountStrict(p, PssCheck::kProcMountRestricted);
    case PssCheck::kRestrictedVolumes: return RestrictedVolumes(p);
    case PssCheck::kRunAsNonRoot: return RunAsNonRoot(p, minor);
    case PssCheck::kRunAsUser: return RunAsUser(p, minor);
    case PssCheck::kSeccompProfileRestricted: return SeccompRestricted(p, minor);
    case PssCheck::kCount: break;
  }
  return Allowed(check);
}

struct CheckMeta {
  std::string_view id;
  PssLevel level;
  int min_minor;  // first policy version with a revision of the check
  CheckId control;
};

constexpr std::array<CheckMeta, static_cast<size_t>(PssCheck::kCount)> kMeta = {{
    {"appArmorProfile", PssLevel::kBaseline, 0, CheckId::kPssAppArmor},
    {"capabilities_baseline", PssLevel::kBaseline, 0, CheckId::kPssCapabilitiesBaseline},
    {"hostNamespaces", PssLevel::kBaseline, 0, CheckId::kPssHostNamespaces},
    {"hostPathVolumes", PssLevel::kBaseline, 0, CheckId::kPssHostPathVolumes},
    {"hostPorts", PssLevel::kBaseline, 0, CheckId::kPssHostPorts},
    {"hostProbesAndHostLifecycle", PssLevel::kBaseline, 34, CheckId::kPssHostProbes},
    {"privileged", PssLevel::kBaseline, 0, CheckId::kPssPrivileged},
    {"procMount", PssLevel::kBaseline, 0, CheckId::kPssProcMount},
    {"seLinuxOptions", PssLevel::kBaseline, 0, CheckId::kPssSelinux},
    {"seccompProfile_baseline", PssLevel::kBaseline, 0, CheckId::kPssSeccompBaseline},
    {"sysctls", PssLevel::kBaseline, 0, CheckId::kPssSysctls},
    {"windowsHostProcess", PssLevel::kBaseline, 0, CheckId::kPssHostProcess},
    {"allowPrivilegeEscalation", PssLevel::kRestricted, 8, CheckId::kPssPrivilegeEscalation},
    {"capabilities_restricted", PssLevel::kRestricted, 22, CheckId::kPssCapabilitiesRestricted},
    {"procMount_restricted", PssLevel::kRestricted, 35, CheckId::kPssProcMount},
    {"restrictedVolumes", PssLevel::kRestricted, 0, CheckId::kPssVolumeTypes},
    {"runAsNonRoot", PssLevel::kRestricted, 0, CheckId::kPssRunAsNonRoot},
    {"runAsUser", PssLevel::kRestricted, 23, CheckId::kPssRunAsUser},
    {"seccompProfile_restricted", PssLevel::kRestricted, 19, CheckId::kPssSeccompRestricted},
}};

const CheckMeta& Meta(PssCheck c) { return kMeta[static_cast<size_t>(c)]; }

// The baseline check a restricted check overrides at `minor`, if any.
std::optional<PssCheck> Overrides(PssCheck c, int minor) {
  switch (c) {
    case PssCheck::kCapabilitiesRestricted:
      if (minor >= 22) return PssCheck::kCapabilitiesBaseline;
      break;
    case PssCheck::kSeccompProfileRestricted:
      if (minor >= 19) return PssCheck::kSeccompProfileBaseline;
      break;
    case PssCheck::kRestrictedVolumes: return PssCheck::kHostPathVolumes;
    case PssCheck::kProcMountRestricted:
      if (minor >= 35) return PssCheck::kProcMount;
      break;
    default: break;
  }
  return std::nullopt;
}

}  // namespace

std::string_view PssLevelName(PssLevel level) {
  switch (level) {
    case PssLevel::kPrivileged: return "privileged";
    case PssLevel::kBaseline: return "baseline";
    case PssLevel::kRestricted: return "restricted";
  }
  return "privileged";
}

bool ParsePssLevel(std::string_view text, PssLevel* out) {
  for (PssLevel l : {PssLevel::kPrivileged, PssLevel::kBaseline, PssLevel::kRestricted}) {
    if (text == PssLevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

std::string PssVersion::ToString() const { return latest ? "latest" : fmt::format("v1.{}", minor); }

bool ParsePssVersion(std::string_view text, PssVersion* out) {
  if (text == "latest") {
    *out = PssVersion::Latest();
    return true;
  }
  // The admission parses ^v(\d+)\.(\d+)$ and supports major version 1 only.
  if (text.size() < 4 || text.substr(0, 3) != "v1.") return false;
  std::string_view digits = text.substr(3);
  if (digits.empty() || digits.size() > 4 || (digits.size() > 1 && digits[0] == '0')) return false;
  int minor = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    minor = minor * 10 + (c - '0');
  }
  *out = PssVersion::Of(minor);
  return true;
}

std::string_view PssCheckId(PssCheck check) { return Meta(check).id; }
PssLevel PssCheckLevel(PssCheck check) { return Meta(check).level; }
CheckId PssCheckControl(PssCheck check) { return Meta(check).control; }

int EffectiveMinor(PssVersion policy, const PssEnvironment& env) {
  if (policy.latest) return env.kubernetes_minor;
  return std::min(policy.minor, env.kubernetes_minor);
}

bool PssCheckApplies(PssCheck check, int effective_minor) {
  return effective_minor >= Meta(check).min_minor;
}

std::vector<PssCheckResult> RunPssChecks(const PssPod& pod, PssVersion policy,
                                         const PssEnvironment& env) {
  PodView view = MakeView(pod, env);
  int minor = EffectiveMinor(policy, env);
  std::vector<PssCheckResult> out;
  for (int i = 0; i < static_cast<int>(PssCheck::kCount); ++i) {
    auto c = static_cast<PssCheck>(i);
    if (PssCheckApplies(c, minor)) out.push_back(Run(c, view, minor));
  }
  return out;
}

std::vector<PssCheck> PssChecksForLevel(PssLevel level, int minor) {
  std::vector<PssCheck> out;
  if (level == PssLevel::kPrivileged) return out;
  std::set<PssCheck> overridden;
  if (level == PssLevel::kRestricted) {
    for (int i = 0; i < static_cast<int>(PssCheck::kCount); ++i) {
      auto c = static_cast<PssCheck>(i);
      if (Meta(c).level == PssLevel::kRestricted && PssCheckApplies(c, minor)) {
        if (auto o = Overrides(c, minor)) overridden.insert(*o);
      }
    }
  }
  std::vector<PssCheck> baseline, restricted;
  for (int i = 0; i < static_cast<int>(PssCheck::kCount); ++i) {
    auto c = static_cast<PssCheck>(i);
    if (!PssCheckApplies(c, minor)) continue;
    if (Meta(c).level == PssLevel::kBaseline) {
      if (!overridden.count(c)) baseline.push_back(c);
    } else if (level == PssLevel::kRestricted) {
      restricted.push_back(c);
    }
  }
  // The admission orders checks by id (Go string order), baseline first.
  auto by_id = [](PssCheck a, PssCheck b) { return Meta(a).id < Meta(b).id; };
  std::sort(baseline.begin(), baseline.end(), by_id);
  std::sort(restricted.begin(), restricted.end(), by_id);
  out = baseline;
  out.insert(out.end(), restricted.begin(), restricted.end());
  return out;
}

std::vector<PssCheckResult> EvaluatePodSecurity(const PssPod& pod, PssLevel level,
                                                PssVersion policy, const PssEnvironment& env) {
  std::vector<PssCheckResult> out;
  if (level == PssLevel::kPrivileged) return out;
  PodView view = MakeView(pod, env);
  int minor = EffectiveMinor(policy, env);
  for (PssCheck c : PssChecksForLevel(level, minor)) {
    PssCheckResult r = Run(c, view, minor);
    if (!r.allowed) out.push_back(std::move(r));
  }
  return out;
}

std::vector<PssCheckResult> ViolationsForLevel(const std::vector<PssCheckResult>& all, PssLevel level,
                                               int effective_minor) {
  // The check lists per level and version, computed once.
  static const auto lists = [] {
    std::vector<std::vector<PssCheck>> l(2 * (kNewestKubernetesMinor + 1));
    for (int m = 0; m <= kNewestKubernetesMinor; ++m) {
      l[2 * m] = PssChecksForLevel(PssLevel::kBaseline, m);
      l[2 * m + 1] = PssChecksForLevel(PssLevel::kRestricted, m);
    }
    return l;
  }();
  std::vector<PssCheckResult> out;
  if (level == PssLevel::kPrivileged) return out;
  int m = std::clamp(effective_minor, 0, kNewestKubernetesMinor);
  for (PssCheck c : lists[2 * m + (level == PssLevel::kRestricted ? 1 : 0)]) {
    for (const PssCheckResult& r : all) {
      if (r.check == c && !r.allowed) out.push_back(r);
    }
  }
  return out;
}

PssLevel StrictestLevel(const PssPod& pod, PssVersion policy, const PssEnvironment& env) {
  if (EvaluatePodSecurity(pod, PssLevel::kRestricted, policy, env).empty()) {
    return PssLevel::kRestricted;
  }
  if (EvaluatePodSecurity(pod, PssLevel::kBaseline, policy, env).empty()) {
    return PssLevel::kBaseline;
  }
  return PssLevel::kPrivileged;
}

std::string PssViolationMessage(PssLevel level, PssVersion policy,
                                const std::vector<PssCheckResult>& violations) {
  std::string out = fmt::format("violates PodSecurity \"{}:{}\": ", PssLevelName(level),
                                policy.ToString());
  for (size_t i = 0; i < violations.size(); ++i) {
    if (i) out += ", ";
    out += violations[i].reason;
    if (!violations[i].detail.empty()) out += " (" + violations[i].detail + ")";
  }
  return out;
}

NamespacePolicy EnforcePolicy(const rapidjson::Value* labels) {
  NamespacePolicy p;
  const JsonValue* level = Get(labels, "pod-security.kubernetes.io/enforce");
  if (IsString(level)) {
    p.labeled = true;
    if (!ParsePssLevel(Str(level), &p.level)) {
      // The admission falls back to the most restrictive level.
      p.level = PssLevel::kRestricted;
      p.invalid = true;
    }
  }
  const JsonValue* version = Get(labels, "pod-security.kubernetes.io/enforce-version");
  if (IsString(version) && !ParsePssVersion(Str(version), &p.version)) {
    p.version = PssVersion::Latest();
    p.invalid = true;
  }
  return p;
}

}  // namespace srexpert::scan
