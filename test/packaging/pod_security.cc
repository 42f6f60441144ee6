#include "test/packaging/pod_security.h"

#include <algorithm>
#include <set>

namespace srexpert::packaging {

namespace {

bool IsTrue(const YAML::Node& n) { return n && n.IsScalar() && n.as<std::string>() == "true"; }
bool IsExplicitFalse(const YAML::Node& n) {
  return n && n.IsScalar() && n.as<std::string>() == "false";
}

// Volume types the restricted policy allows.
const std::set<std::string>& AllowedVolumeTypes() {
  static const std::set<std::string> types = {
      "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
      "projected", "secret"};
  return types;
}

// Sysctls the baseline policy (and so restricted) allows.
const std::set<std::string>& SafeSysctls() {
  static const std::set<std::string> names = {
      "kernel.shm_rmid_forced",         "net.ipv4.ip_local_port_range",
      "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
      "net.ipv4.ping_group_range",      "net.ipv4.ip_local_reserved_ports",
      "net.ipv4.tcp_keepalive_time",    "net.ipv4.tcp_fin_timeout",
      "net.ipv4.tcp_keepalive_intvl",   "net.ipv4.tcp_keepalive_probes"};
  return names;
}

bool SeccompAllowed(const YAML::Node& profile) {
  if (!profile || !profile["type"]) return false;
  std::string type = profile["type"].as<std::string>();
  return type == "RuntimeDefault" || type == "Localhost";
}

}  // namespace

bool IsWorkload(const YAML::Node& object) {
  static const std::set<std::string> kinds = {"Pod", "Deployment", "DaemonSet", "StatefulSet",
                                              "ReplicaSet", "ReplicationController", "Job",
                                              "CronJob"};
  return object["kind"] && kinds.count(object["kind"].as<std::string>()) > 0;
}

YAML::Node PodSpecOf(const YAML::Node& object) {
  if (!IsWorkload(object)) return YAML::Node();
  const std::string kind = object["kind"].as<std::string>();
  if (kind == "Pod") return object["spec"];
  if (kind == "Deployment" || kind == "DaemonSet" || kind == "StatefulSet" ||
      kind == "ReplicaSet" || kind == "ReplicationController" || kind == "Job") {
    return object["spec"]["template"]["spec"];
  }
  if (kind == "CronJob") return object["spec"]["jobTemplate"]["spec"]["template"]["spec"];
  return YAML::Node();
}

std::vector<std::string> RestrictedViolations(const YAML::Node& pod_spec,
                                              const std::string& where) {
  std::vector<std::string> v;
  auto add = [&](const std::string& what) { v.push_back(where + ": " + what); };
  if (!pod_spec || !pod_spec.IsMap()) {
    add("no pod spec");
    return v;
  }

  // Host namespaces.
  for (const char* f : {"hostNetwork", "hostPID", "hostIPC"}) {
    if (IsTrue(pod_spec[f])) add(std::string(f) + " must not be true");
  }
  const YAML::Node pod_sc = pod_spec["securityContext"];
  const bool pod_non_root = pod_sc && IsTrue(pod_sc["runAsNonRoot"]);
  const bool pod_seccomp = pod_sc && SeccompAllowed(pod_sc["seccompProfile"]);
  if (pod_sc) {
    if (pod_sc["runAsUser"] && pod_sc["runAsUser"].as<long long>() == 0) {
      add("securityContext.runAsUser must not be 0");
    }
    if (pod_sc["seccompProfile"] && !pod_seccomp) {
      add("securityContext.seccompProfile.type must be RuntimeDefault or Localhost");
    }
    if (const YAML::Node sysctls = pod_sc["sysctls"]) {
      for (const auto& s : sysctls) {
        std::string name = s["name"] ? s["name"].as<std::string>() : "";
        if (!SafeSysctls().count(name)) add("sysctl " + name + " is not allowed");
      }
    }
    if (const YAML::Node se = pod_sc["seLinuxOptions"]) {
      if (se["user"] || se["role"]) add("securityContext.seLinuxOptions user/role must not be set");
    }
  }

  // Volumes.
  if (const YAML::Node volumes = pod_spec["volumes"]) {
    for (const auto& vol : volumes) {
      std::string name = vol["name"] ? vol["name"].as<std::string>() : "?";
      for (const auto& field : vol) {
        std::string key = field.first.as<std::string>();
        if (key == "name") continue;
        if (!AllowedVolumeTypes().count(key)) {
          add("volume " + name + " uses disallowed type " + key);
        }
      }
    }
  }

  bool any_container = false;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    const YAML::Node containers = pod_spec[list];
    if (!containers) continue;
    for (const auto& c : containers) {
      any_container = true;
      const std::string cw = std::string(list) + "[" +
                             (c["name"] ? c["name"].as<std::string>() : "?") + "]";
      const YAML::Node sc = c["securityContext"];
      if (!sc) {
        add(cw + " has no securityContext");
        continue;
      }
      if (IsTrue(sc["privileged"])) add(cw + ".securityContext.privileged must not be true");
      if (!IsExplicitFalse(sc["allowPrivilegeEscalation"])) {
        add(cw + ".securityContext.allowPrivilegeEscalation must be false");
      }
      // runAsNonRoot: set true on the pod or the container, never false.
      if (IsExplicitFalse(sc["runAsNonRoot"])) add(cw + ".securityContext.runAsNonRoot is false");
      if (!pod_non_root && !IsTrue(sc["runAsNonRoot"])) {
        add(cw + " must run with runAsNonRoot true (pod or container)");
      }
      if (sc["runAsUser"] && sc["runAsUser"].as<long long>() == 0) {
        add(cw + ".securityContext.runAsUser must not be 0");
      }
      // seccomp: RuntimeDefault or Localhost on the pod or the container.
      if (sc["seccompProfile"] && !SeccompAllowed(sc["seccompProfile"])) {
        add(cw + ".securityContext.seccompProfile.type must be RuntimeDefault or Localhost");
      }
      if (!pod_seccomp && !SeccompAllowed(sc["seccompProfile"])) {
        add(cw + " needs seccompProfile RuntimeDefault or Localhost (pod or container)");
      }
      // Capabilities: drop ALL, add at most NET_BIND_SERVICE.
      const YAML::Node caps = sc["capabilities"];
      bool drops_all = false;
      if (caps && caps["drop"]) {
        for (const auto& d : caps["drop"]) drops_all |= d.as<std::string>() == "ALL";
      }
      if (!drops_all) add(cw + ".securityContext.capabilities.drop must contain ALL");
      if (caps && caps["add"]) {
        for (const auto& a : caps["add"]) {
          if (a.as<std::string>() != "NET_BIND_SERVICE") {
            add(cw + " adds capability " + a.as<std::string>());
          }
        }
      }
      if (sc["procMount"] && sc["procMount"].as<std::string>() != "Default") {
        add(cw + ".securityContext.procMount must be Default");
      }
      if (const YAML::Node se = sc["seLinuxOptions"]) {
        if (se["user"] || se["role"]) add(cw + ".securityContext.seLinuxOptions user/role set");
      }
      if (sc["appArmorProfile"] && sc["appArmorProfile"]["type"] &&
          sc["appArmorProfile"]["type"].as<std::string>() == "Unconfined") {
        add(cw + ".securityContext.appArmorProfile must not be Unconfined");
      }
      if (const YAML::Node ports = c["ports"]) {
        for (const auto& p : ports) {
          if (p["hostPort"] && p["hostPort"].as<int>() != 0) add(cw + " uses a hostPort");
        }
      }
      // This project's rule: nothing writes outside mounted volumes.
      if (!IsTrue(sc["readOnlyRootFilesystem"])) {
        add(cw + ".securityContext.readOnlyRootFilesystem must be true");
      }
    }
  }
  if (!any_container) add("no containers");
  return v;
}

}  // namespace srexpert::packaging
