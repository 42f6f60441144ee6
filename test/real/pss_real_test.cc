// Differential test of the Pod Security Standards evaluation
// (operator/scan/pod_security.h) against a real kube-apiserver's PodSecurity
// admission: hundreds of generated pods — host namespaces, privileged,
// capabilities, volumes, host ports, AppArmor, SELinux, /proc mount, seccomp
// fields and annotations at pod and container level, sysctls, privilege
// escalation, users, Windows pods, init and ephemeral containers — are
// created with dryRun=All in namespaces enforcing baseline and restricted at
// latest and at pinned versions around every version boundary. For every pod
// and namespace the scanner's verdict must equal the API server's, and its
// message must be the admission's message.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/json.h"
#include "scan/pod_security.h"
#include "test/net/test_support.h"
#include "test/real/real_cluster.h"

using namespace srexpert;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<kube::RestClient> Client() {
  auto c = testing::real::AdminClient();
  REQUIRE(c.ok());
  return *c;
}

// The API server's minor version (`kubectl version`).
int ServerMinor() {
  std::string out;
  int rc = testing::RunShell("kubectl --kubeconfig '" + testing::real::AdminKubeconfig() +
                                 "' version -o json 2>/dev/null",
                             &out);
  REQUIRE(rc == 0);
  // kubectl may add a version-skew warning after the JSON.
  size_t end = out.rfind('}');
  REQUIRE(end != std::string::npos);
  auto doc = json::Parse(out.substr(0, end + 1));
  REQUIRE(doc);
  std::string minor = json::GetString(*doc, {"serverVersion", "minor"});
  REQUIRE(!minor.empty());
  return std::stoi(minor);
}

struct Policy {
  scan::PssLevel level;
  std::string version;  // label value
  std::string ns;
};

// Namespaces enforcing each level at latest and at pinned versions on both
// sides of every boundary: allowPrivilegeEscalation (1.8), seccomp fields
// (1.19), restricted capabilities (1.22), runAsUser (1.23), Windows
// exemptions (1.25).
std::vector<Policy> Policies() {
  std::vector<Policy> out;
  for (std::string version : {"latest", "v1.7", "v1.18", "v1.21", "v1.23", "v1.24"}) {
    for (auto level : {scan::PssLevel::kBaseline, scan::PssLevel::kRestricted}) {
      std::string v = version == "latest" ? "latest" : version.substr(1);
      std::replace(v.begin(), v.end(), '.', '-');
      out.push_back({level, version, fmt::format("pss-{}-{}", scan::PssLevelName(level), v)});
    }
  }
  return out;
}

void EnsureNamespace(kube::RestClient& client, const Policy& p) {
  auto ns = json::Parse(fmt::format(
      R"({{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{}","labels":{{)"
      R"("pod-security.kubernetes.io/enforce":"{}","pod-security.kubernetes.io/enforce-version":"{}"}}}}}})",
      p.ns, scan::PssLevelName(p.level), p.version));
  REQUIRE(ns);
  auto created = client.Create(*ns);
  REQUIRE((created.ok() || created.error().IsAlreadyExists()));
  // Pods need the namespace's default ServiceAccount (kube-controller-manager
  // creates it a moment later).
  for (int i = 0; i < 300; ++i) {
    if (client.Get({"v1", "ServiceAccount", p.ns, "default"}).ok()) return;
    std::this_thread::sleep_for(100ms);
  }
  FAIL("no default ServiceAccount in " << p.ns);
}

// ---- generated pods ---------------------------------------------------------------

// One pod is one variant from each ingredient list; the first variant of
// every list is the restricted-compliant default.
struct Variant {
  std::string name;
  std::string json;
};

const std::vector<Variant> kPodSecurityContexts = {
    {"pod-restricted", R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}})"},
    {"pod-empty", R"({})"},
    {"pod-nonroot-only", R"({"runAsNonRoot":true})"},
    {"pod-nonroot-false", R"({"runAsNonRoot":false,"seccompProfile":{"type":"RuntimeDefault"}})"},
    {"pod-user-0", R"({"runAsNonRoot":true,"runAsUser":0,"seccompProfile":{"type":"RuntimeDefault"}})"},
    {"pod-user-1000", R"({"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}})"},
    {"pod-seccomp-unconfined", R"({"runAsNonRoot":true,"seccompProfile":{"type":"Unconfined"}})"},
    {"pod-seccomp-localhost",
     R"({"runAsNonRoot":true,"seccompProfile":{"type":"Localhost","localhostProfile":"profiles/p.json"}})"},
    {"pod-selinux-container-t",
     R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"seLinuxOptions":{"type":"container_t","level":"s0:c1,c2"}})"},
    {"pod-selinux-spc", R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"seLinuxOptions":{"type":"spc_t"}})"},
    {"pod-selinux-user", R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"seLinuxOptions":{"user":"system_u"}})"},
    {"pod-selinux-role", R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"seLinuxOptions":{"role":"system_r"}})"},
    {"pod-selinux-engine", R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"seLinuxOptions":{"type":"container_engine_t"}})"},
    {"pod-sysctls-safe",
     R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"sysctls":[{"name":"kernel.shm_rmid_forced","value":"1"},{"name":"net.ipv4.ip_local_port_range","value":"1024 65000"},{"name":"net.ipv4.ping_group_range","value":"0 1"}]})"},
    {"pod-sysctls-reserved-ports",
     R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"sysctls":[{"name":"net.ipv4.ip_local_reserved_ports","value":"8080"}]})"},
    {"pod-sysctls-keepalive",
     R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"sysctls":[{"name":"net.ipv4.tcp_keepalive_time","value":"60"}]})"},
    {"pod-sysctls-unsafe",
     R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"},"sysctls":[{"name":"kernel.msgmax","value":"65536"},{"name":"net.core.somaxconn","value":"1024"}]})"},
};

// Security contexts for the main container ("app").
const std::vector<Variant> kContainerSecurityContexts = {
    {"c-restricted", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}})"},
    {"c-none", ""},
    {"c-empty", R"({})"},
    {"c-privileged", R"({"privileged":true})"},
    {"c-privileged-false", R"({"privileged":false,"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}})"},
    {"c-escalation-true", R"({"allowPrivilegeEscalation":true,"capabilities":{"drop":["ALL"]}})"},
    {"c-no-escalation-field", R"({"capabilities":{"drop":["ALL"]}})"},
    {"c-add-net-bind", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]}})"},
    {"c-add-chown", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"],"add":["CHOWN"]}})"},
    {"c-add-net-raw", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"],"add":["NET_RAW"]}})"},
    {"c-add-sys-admin", R"({"allowPrivilegeEscalation":false,"capabilities":{"add":["SYS_ADMIN"]}})"},
    {"c-drop-lowercase-all", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["all"]}})"},
    {"c-drop-net-raw", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["NET_RAW"]}})"},
    {"c-nonroot-false", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsNonRoot":false})"},
    {"c-nonroot-true", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsNonRoot":true})"},
    {"c-user-0", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsUser":0})"},
    {"c-seccomp-unconfined", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"Unconfined"}})"},
    {"c-seccomp-runtime", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"RuntimeDefault"}})"},
    {"c-proc-unmasked", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"procMount":"Unmasked"})"},
    {"c-proc-default", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"procMount":"Default"})"},
    {"c-selinux-bad-type", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"seLinuxOptions":{"type":"unconfined_t"}})"},
    {"c-selinux-init-t", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"seLinuxOptions":{"type":"container_init_t"}})"},
    {"c-selinux-kvm-t", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"seLinuxOptions":{"type":"container_kvm_t"}})"},
};

// The init container: absent, or one of these security contexts.
const std::vector<Variant> kInitContainers = {
    {"no-init", "-"},
    {"init-restricted", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}})"},
    {"init-none", ""},
    {"init-privileged", R"({"privileged":true,"allowPrivilegeEscalation":true})"},
    {"init-escalation", R"({"capabilities":{"drop":["ALL"]}})"},
    {"init-nonroot-false", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsNonRoot":false})"},
    {"init-add-sys-ptrace", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"],"add":["SYS_PTRACE"]}})"},
};

const std::vector<Variant> kVolumes = {
    {"no-volumes", ""},
    {"vol-allowed",
     R"([{"name":"a","emptyDir":{}},{"name":"b","configMap":{"name":"cm"}},{"name":"c","secret":{"secretName":"s"}},)"
     R"({"name":"d","downwardAPI":{"items":[{"path":"l","fieldRef":{"fieldPath":"metadata.labels"}}]}},)"
     R"({"name":"e","projected":{"sources":[{"configMap":{"name":"cm"}}]}},{"name":"f","persistentVolumeClaim":{"claimName":"pvc"}},)"
     R"({"name":"g","csi":{"driver":"csi.example.com"}},)"
     R"({"name":"h","ephemeral":{"volumeClaimTemplate":{"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}}}])"},
    {"vol-hostpath", R"([{"name":"host","hostPath":{"path":"/var/run"}}])"},
    {"vol-nfs", R"([{"name":"n","nfs":{"server":"10.0.0.1","path":"/export"}}])"},
    {"vol-iscsi", R"([{"name":"i","iscsi":{"targetPortal":"10.0.0.2:3260","iqn":"iqn.2001-04.com.example:storage","lun":0}}])"},
    {"vol-gitrepo", R"([{"name":"g","gitRepo":{"repository":"https://example.com/r.git"}}])"},
    {"vol-several",
     R"([{"name":"z","emptyDir":{}},{"name":"y","awsElasticBlockStore":{"volumeID":"vol-1"}},)"
     R"({"name":"x","gcePersistentDisk":{"pdName":"pd"}},{"name":"w","flexVolume":{"driver":"example/flex"}},)"
     R"({"name":"v","hostPath":{"path":"/tmp"}}])"},
};

const std::vector<Variant> kAnnotations = {
    {"no-annotations", ""},
    {"apparmor-runtime", R"({"container.apparmor.security.beta.kubernetes.io/app":"runtime/default"})"},
    {"apparmor-localhost", R"({"container.apparmor.security.beta.kubernetes.io/app":"localhost/profile"})"},
    {"apparmor-unconfined", R"({"container.apparmor.security.beta.kubernetes.io/app":"unconfined"})"},
    {"seccomp-pod-unconfined", R"({"seccomp.security.alpha.kubernetes.io/pod":"unconfined"})"},
    {"seccomp-pod-runtime", R"({"seccomp.security.alpha.kubernetes.io/pod":"runtime/default"})"},
    {"seccomp-app-unconfined", R"({"container.seccomp.security.alpha.kubernetes.io/app":"unconfined"})"},
    {"seccomp-app-docker", R"({"container.seccomp.security.alpha.kubernetes.io/app":"docker/default"})"},
};

// Pod spec fields beside the containers.
const std::vector<Variant> kSpecFields = {
    {"no-host", ""},
    {"host-network", R"("hostNetwork":true)"},
    {"host-pid", R"("hostPID":true)"},
    {"host-ipc", R"("hostIPC":true)"},
    {"host-false", R"("hostNetwork":false,"hostPID":false,"hostIPC":false)"},
};

// Ports of the main container.
const std::vector<Variant> kPorts = {
    {"no-ports", ""},
    {"port", R"([{"containerPort":8080}])"},
    {"host-port", R"([{"containerPort":8080,"hostPort":8080}])"},
    {"host-port-zero", R"([{"containerPort":8080,"hostPort":0}])"},
    {"host-ports", R"([{"containerPort":80,"hostPort":80},{"containerPort":9090,"hostPort":9090}])"},
};

// Probes of the main container (host probes are a v1.34 control).
const std::vector<Variant> kProbes = {
    {"no-probes", ""},
    {"probe-host", R"("livenessProbe":{"httpGet":{"host":"10.0.0.9","port":8080,"path":"/"}})"},
};

struct Pod {
  std::string name;
  std::string description;
  std::string json;
};

std::string Container(const std::string& name, const std::string& sc, const std::string& ports,
                      const std::string& probes) {
  std::string c = fmt::format(R"({{"name":"{}","image":"registry.example/app:1.0")", name);
  if (!sc.empty()) c += fmt::format(R"(,"securityContext":{})", sc);
  if (!ports.empty()) c += fmt::format(R"(,"ports":{})", ports);
  if (!probes.empty()) c += "," + probes;
  return c + "}";
}

Pod MakePod(int index, const std::vector<size_t>& pick) {
  const Variant& psc = kPodSecurityContexts[pick[0]];
  const Variant& csc = kContainerSecurityContexts[pick[1]];
  const Variant& init = kInitContainers[pick[2]];
  const Variant& vols = kVolumes[pick[3]];
  const Variant& ann = kAnnotations[pick[4]];
  const Variant& spec = kSpecFields[pick[5]];
  const Variant& ports = kPorts[pick[6]];
  const Variant& probes = kProbes[pick[7]];
  std::string name = fmt::format("pod-{}", index);
  std::string meta = fmt::format(R"("name":"{}")", name);
  if (!ann.json.empty()) meta += fmt::format(R"(,"annotations":{})", ann.json);
  std::string s = fmt::format(R"("securityContext":{},"containers":[{}])", psc.json,
                              Container("app", csc.json, ports.json, probes.json));
  if (init.json != "-") s += fmt::format(R"(,"initContainers":[{}])", Container("init", init.json, "", ""));
  if (!vols.json.empty()) s += fmt::format(R"(,"volumes":{})", vols.json);
  if (!spec.json.empty()) s += "," + spec.json;
  std::string description = fmt::format("{} {} {} {} {} {} {} {}", psc.name, csc.name, init.name,
                                        vols.name, ann.name, spec.name, ports.name, probes.name);
  return {name, description,
          fmt::format(R"({{"apiVersion":"v1","kind":"Pod","metadata":{{{}}},"spec":{{{}}}}})", meta, s)};
}

// Every variant alone (the others at their defaults), then seeded random
// combinations, then Windows pods.
std::vector<Pod> GeneratePods() {
  const std::vector<size_t> sizes = {kPodSecurityContexts.size(), kContainerSecurityContexts.size(),
                                     kInitContainers.size(),      kVolumes.size(),
                                     kAnnotations.size(),         kSpecFields.size(),
                                     kPorts.size(),               kProbes.size()};
  std::vector<Pod> pods;
  int index = 0;
  for (size_t list = 0; list < sizes.size(); ++list) {
    for (size_t v = 0; v < sizes[list]; ++v) {
      if (v == 0 && list > 0) continue;  // the all-defaults pod once
      std::vector<size_t> pick(sizes.size(), 0);
      pick[list] = v;
      pods.push_back(MakePod(index++, pick));
    }
  }
  std::mt19937 rng(20240601);
  for (int i = 0; i < 220; ++i) {
    std::vector<size_t> pick(sizes.size(), 0);
    for (size_t list = 0; list < sizes.size(); ++list) {
      // Half the lists keep their default, so violations mix rather than pile up.
      if (rng() % 2 == 0) pick[list] = rng() % sizes[list];
    }
    pods.push_back(MakePod(index++, pick));
  }
  // Windows pods: the Linux-only fields are invalid there, so they carry
  // only runAsNonRoot (and, for the last, a HostProcess container).
  const char* windows[] = {
      R"({"securityContext":{"runAsNonRoot":true},"containers":[{"name":"app","image":"registry.example/app:1.0"}]})",
      R"({"securityContext":{},"containers":[{"name":"app","image":"registry.example/app:1.0"}]})",
      R"({"securityContext":{"runAsNonRoot":true},"hostNetwork":true,"containers":[{"name":"app","image":"registry.example/app:1.0","securityContext":{"windowsOptions":{"hostProcess":true,"runAsUserName":"NT AUTHORITY\\SYSTEM"}}}]})",
  };
  for (const char* spec : windows) {
    std::string name = fmt::format("pod-{}", index++);
    std::string s = spec;
    s.insert(1, R"("os":{"name":"windows"},)");
    pods.push_back({name, "windows " + std::string(spec),
                    fmt::format(R"({{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{}"}},"spec":{}}})",
                                name, s)});
  }
  return pods;
}

struct Tally {
  int compared = 0;
  int invalid = 0;
  int rejected = 0;
  std::set<std::string> invalid_pods;  // descriptions
  std::map<std::string, int> disagreements;
};

// The admission message of a rejection, as the API server words it.
std::string Expected(const std::string& pod_name, const Policy& p,
                     const std::vector<scan::PssCheckResult>& violations) {
  scan::PssVersion version;
  REQUIRE(scan::ParsePssVersion(p.version, &version));
  return fmt::format("pods \"{}\" is forbidden: {}", pod_name,
                     scan::PssViolationMessage(p.level, version, violations));
}

void Compare(const Pod& pod, const json::Document& doc, const Policy& p, const kube::Result<json::Document>& created,
             const scan::PssEnvironment& env, Tally* tally) {
  if (!created.ok() && created.error().IsInvalid()) {
    ++tally->invalid;  // the pod itself is invalid on this server: nothing to compare
    tally->invalid_pods.insert(pod.description + ": " + created.error().message().substr(0, 160));
    return;
  }
  if (!created.ok() && created.error().code() != 403) {
    FAIL(pod.name << " in " << p.ns << ": " << created.error().ToString());
  }
  scan::PssVersion version;
  REQUIRE(scan::ParsePssVersion(p.version, &version));
  scan::PssPod spod{json::Find(doc, {"metadata"}), json::Find(doc, {"spec"}), true};
  auto violations = scan::EvaluatePodSecurity(spod, p.level, version, env);
  ++tally->compared;
  bool server_allowed = created.ok();
  if (!server_allowed) ++tally->rejected;
  INFO(pod.name << " (" << pod.description << ") in " << p.ns);
  INFO("pod: " << pod.json);
  INFO("server: " << (server_allowed ? "allowed" : created.error().message()));
  INFO("scanner: " << (violations.empty() ? "allowed" : Expected(pod.name, p, violations)));
  CHECK(violations.empty() == server_allowed);
  if (violations.empty() != server_allowed) {
    ++tally->disagreements[fmt::format("{}:{}", scan::PssLevelName(p.level), p.version)];
  } else if (!server_allowed) {
    CHECK(created.error().message() == Expected(pod.name, p, violations));
  }
}

}  // namespace

TEST_CASE("pss: the scanner's Pod Security verdict equals kube-apiserver's for every generated pod and level",
          "[real][pss]") {
  auto client = Client();
  scan::PssEnvironment env;
  env.kubernetes_minor = ServerMinor();
  std::vector<Policy> policies = Policies();
  for (const Policy& p : policies) EnsureNamespace(*client, p);
  std::vector<Pod> pods = GeneratePods();
  Tally tally;
  for (const Pod& pod : pods) {
    auto doc = json::Parse(pod.json);
    REQUIRE(doc);
    for (const Policy& p : policies) {
      json::Document submitted = json::Clone(*doc);
      json::SetString(*json::FindMutable(submitted, {"metadata"}), "namespace", p.ns,
                      submitted.GetAllocator());
      auto created = client->Create(submitted, {.field_manager = "pss-real-test", .dry_run = true});
      Compare(pod, *doc, p, created, env, &tally);
    }
  }
  std::string per_policy;
  for (const auto& [k, v] : tally.disagreements) per_policy += fmt::format(" {}={}", k, v);
  WARN(fmt::format("{} pods x {} policies: {} compared ({} rejected by the server), {} invalid on "
                   "this server, disagreements:{}",
                   pods.size(), policies.size(), tally.compared, tally.rejected, tally.invalid,
                   per_policy.empty() ? " none" : per_policy));
  std::string invalid;
  for (const auto& d : tally.invalid_pods) invalid += "\n  invalid here: " + d;
  WARN(invalid);
  CHECK(tally.disagreements.empty());
  // The generator must exercise the server, not mostly produce invalid pods.
  CHECK(tally.compared >= 3000);
  CHECK(tally.rejected >= tally.compared / 4);
  CHECK(tally.compared - tally.rejected >= tally.compared / 10);
}

TEST_CASE("pss: ephemeral containers added through the subresource are judged like kube-apiserver does",
          "[real][pss]") {
  auto client = Client();
  scan::PssEnvironment env;
  env.kubernetes_minor = ServerMinor();
  const std::vector<std::pair<std::string, std::string>> debuggers = {
      {"restricted", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}})"},
      {"bare", ""},
      {"privileged", R"({"privileged":true})"},
      {"sys-admin", R"({"capabilities":{"add":["SYS_ADMIN"]}})"},
      {"root", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsUser":0})"},
      {"unconfined", R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"Unconfined"}})"},
  };
  Tally tally;
  for (const Policy& p : Policies()) {
    if (p.version != "latest" && p.version != "v1.23") continue;
    EnsureNamespace(*client, p);
    const std::string name = "debug-target";
    auto pod = json::Parse(fmt::format(
        R"({{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{}","namespace":"{}"}},"spec":{{)"
        R"("securityContext":{{"runAsNonRoot":true,"seccompProfile":{{"type":"RuntimeDefault"}}}},)"
        R"("containers":[{{"name":"app","image":"registry.example/app:1.0",)"
        R"("securityContext":{{"allowPrivilegeEscalation":false,"capabilities":{{"drop":["ALL"]}}}}}}]}}}})",
        name, p.ns));
    REQUIRE(pod);
    auto created = client->Create(*pod);
    REQUIRE((created.ok() || created.error().IsAlreadyExists()));
    for (const auto& [dname, sc] : debuggers) {
      std::string container = fmt::format(R"({{"name":"debug-{}","image":"registry.example/debug:1.0")", dname);
      if (!sc.empty()) container += fmt::format(R"(,"securityContext":{})", sc);
      container += "}";
      std::string patch = fmt::format(R"({{"spec":{{"ephemeralContainers":[{}]}}}})", container);
      auto patched = client->Patch({"v1", "Pod", p.ns, name}, kube::PatchType::kStrategicMerge, patch,
                                   {.subresource = "ephemeralcontainers", .dry_run = true});
      // The scanner sees the pod with the ephemeral container added.
      json::Document with = json::Clone(*pod);
      auto& spec = *json::FindMutable(with, {"spec"});
      json::Value list(rapidjson::kArrayType);
      auto c = json::Parse(container);
      REQUIRE(c);
      list.PushBack(json::Value(*c, with.GetAllocator()), with.GetAllocator());
      json::Set(spec, "ephemeralContainers", std::move(list), with.GetAllocator());
      Pod described{name, "ephemeral " + dname, json::Dump(with)};
      Compare(described, with, p, patched, env, &tally);
    }
  }
  WARN(fmt::format("ephemeral containers: {} compared ({} rejected), disagreements: {}",
                   tally.compared, tally.rejected, tally.disagreements.size()));
  CHECK(tally.disagreements.empty());
  CHECK(tally.rejected > 0);
  CHECK(tally.compared > tally.rejected);
}

TEST_CASE("pss: srexpert-scan --kubeconfig lists and scans the cluster", "[real][pss][cli]") {
  auto client = Client();
  const std::string ns = "pss-scan";
  auto namespace_object = json::Parse(
      R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"pss-scan","labels":{"pod-security.kubernetes.io/enforce":"baseline"}}})");
  auto created = client->Create(*namespace_object);
  REQUIRE((created.ok() || created.error().IsAlreadyExists()));
  auto deployment = json::Parse(
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"pss-scan"},)"
      R"("spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},)"
      R"("spec":{"containers":[{"name":"app","image":"registry.example/web:1.0"}]}}}})");
  created = client->Create(*deployment);
  REQUIRE((created.ok() || created.error().IsAlreadyExists()));
  auto binding = json::Parse(
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"editors","namespace":"pss-scan"},)"
      R"("roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},)"
      R"("subjects":[{"kind":"Group","name":"editors","apiGroup":"rbac.authorization.k8s.io"}]})");
  created = client->Create(*binding);
  REQUIRE((created.ok() || created.error().IsAlreadyExists()));

  std::string out;
  int rc = testing::RunShell(fmt::format("{{ '{}' --kubeconfig '{}' --namespace {} -o json 2>/dev/null; }}", SRX_SCAN_BINARY,
                                         testing::real::AdminKubeconfig(), ns),
                             &out);
  REQUIRE(rc == 0);
  auto doc = json::Parse(out);
  REQUIRE(doc);
  auto result = [&](const std::string& check, const std::string& name) -> const json::Value* {
    for (const auto& r : (*doc)["results"].GetArray()) {
      if (r["check"] == check.c_str() && r["object"]["name"] == name.c_str()) return &r;
    }
    return nullptr;
  };
  // The Deployment meets baseline, not restricted.
  REQUIRE(result("pss-run-as-non-root", "web"));
  CHECK_FALSE((*result("pss-run-as-non-root", "web"))["passed"].GetBool());
  CHECK((*result("pss-privileged", "web"))["passed"].GetBool());
  // The Namespace enforces baseline.
  REQUIRE(result("pss-namespace-enforce", ns));
  CHECK((*result("pss-namespace-enforce", ns))["passed"].GetBool());
  // The RoleBinding's ClusterRole was listed for resolution (edit allows
  // pods/exec) but is not itself reported.
  REQUIRE(result("rolebinding-clusterrole-pod-exec-attach", "editors"));
  CHECK_FALSE((*result("rolebinding-clusterrole-pod-exec-attach", "editors"))["passed"].GetBool());
  CHECK(result("rbac-wildcard", "edit") == nullptr);
  for (const auto& r : (*doc)["results"].GetArray()) {
    std::string obj_ns = r["object"]["namespace"].GetString();
    std::string kind = r["object"]["kind"].GetString();
    CHECK((obj_ns == ns || (kind == "Namespace" && std::string(r["object"]["name"].GetString()) == ns)));
  }
  const auto& readiness = (*doc)["summary"]["namespaces"][ns.c_str()]["podSecurity"];
  CHECK(readiness["enforce"] == "baseline");
  CHECK(readiness["next"] == "restricted");

  // The whole cluster: Kubernetes' own roles and bindings are scanned too.
  rc = testing::RunShell(fmt::format("{{ '{}' --kubeconfig '{}' -o json --fail-on danger 2>/dev/null; }}", SRX_SCAN_BINARY,
                                     testing::real::AdminKubeconfig()),
                         &out);
  doc = json::Parse(out);
  REQUIRE(doc);
  CHECK(result("clusterrole-pod-exec-attach", "edit") != nullptr);
  CHECK(rc == 3);  // Kubernetes' own roles (cluster-admin, ...) are dangers
}
