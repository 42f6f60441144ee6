// Pod Security Standards evaluation (operator/scan/pod_security.h): every
// control on pods and on workload templates, init and ephemeral containers,
// pod/container inheritance, the version boundaries of each check, the
// restricted level's overrides, the API server's preparation of pods, and
// the admission's messages. test/real/pss_real_test.cc compares the same
// evaluation with a real API server.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "scan/object.h"
#include "scan/pod_security.h"
#include "test/scan/scan_test_support.h"

using namespace srexpert;
using namespace srexpert::scan;
using srexpert::testing::scan::Evaluate;
using srexpert::testing::scan::PodJson;

namespace {

constexpr const char* kRestrictedPodSc = R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}})";
constexpr const char* kRestrictedSc = R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}})";

// A pod restricted passes, then `extra` spec fields / container fields.
std::string Spec(const std::string& pod_sc, const std::string& container_sc, const std::string& extra = "",
                 const std::string& container_extra = "") {
  std::string c = fmt::format(R"({{"name":"app","image":"i:1","securityContext":{}{}}})", container_sc,
                              container_extra.empty() ? "" : "," + container_extra);
  return fmt::format(R"({{"securityContext":{},"containers":[{}]{}}})", pod_sc, c,
                     extra.empty() ? "" : "," + extra);
}

std::string Reasons(const std::vector<PssCheckResult>& v) {
  std::string out;
  for (const auto& r : v) out += (out.empty() ? "" : " | ") + r.reason + " (" + r.detail + ")";
  return out.empty() ? "allowed" : out;
}

struct Case {
  std::string name;
  std::string pod;  // full pod JSON
  PssLevel level;
  std::string version;  // label value
  std::string expect;   // "" allowed, else a ForbiddenReason that must appear
};

PssVersion V(const std::string& s) {
  PssVersion v;
  REQUIRE(ParsePssVersion(s, &v));
  return v;
}

void Run(const std::vector<Case>& cases, PssEnvironment env = {}) {
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name << " @ " << PssLevelName(c.level) << ":" << c.version) {
      auto v = Evaluate(c.pod, c.level, V(c.version), env);
      INFO(c.pod);
      INFO(Reasons(v));
      if (c.expect.empty()) {
        CHECK(v.empty());
      } else {
        bool found = false;
        for (const auto& r : v) found |= r.reason == c.expect;
        CHECK(found);
      }
    }
  }
}

const PssLevel B = PssLevel::kBaseline;
const PssLevel R = PssLevel::kRestricted;

}  // namespace

TEST_CASE("a restricted pod passes both levels, a bare pod only baseline", "[scan][pss]") {
  std::string restricted = PodJson(Spec(kRestrictedPodSc, kRestrictedSc));
  CHECK(Evaluate(restricted, R).empty());
  CHECK(Evaluate(restricted, B).empty());
  std::string bare = PodJson(R"({"containers":[{"name":"app","image":"i:1"}]})");
  CHECK(Evaluate(bare, B).empty());
  auto v = Evaluate(bare, R);
  CHECK(Reasons(v) ==
        "allowPrivilegeEscalation != false (container \"app\" must set "
        "securityContext.allowPrivilegeEscalation=false) | unrestricted capabilities (container \"app\" "
        "must set securityContext.capabilities.drop=[\"ALL\"]) | runAsNonRoot != true (pod or container "
        "\"app\" must set securityContext.runAsNonRoot=true) | seccompProfile (pod or container \"app\" "
        "must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")");
  CHECK(Evaluate(bare, PssLevel::kPrivileged).empty());
}

TEST_CASE("baseline controls on pods", "[scan][pss]") {
  std::string sc = kRestrictedSc, psc = kRestrictedPodSc;
  Run({
      {"hostNetwork", PodJson(Spec(psc, sc, R"("hostNetwork":true)")), B, "latest", "host namespaces"},
      {"hostPID", PodJson(Spec(psc, sc, R"("hostPID":true)")), B, "latest", "host namespaces"},
      {"hostIPC", PodJson(Spec(psc, sc, R"("hostIPC":true)")), B, "latest", "host namespaces"},
      {"host namespaces false", PodJson(Spec(psc, sc, R"("hostIPC":false,"hostPID":false)")), B, "latest", ""},
      {"privileged", PodJson(Spec(psc, R"({"privileged":true})")), B, "latest", "privileged"},
      {"privileged false", PodJson(Spec(psc, R"({"privileged":false})")), B, "latest", ""},
      {"add NET_RAW", PodJson(Spec(psc, R"({"capabilities":{"add":["NET_RAW"]}})")), B, "latest",
       "non-default capabilities"},
      {"add CHOWN", PodJson(Spec(psc, R"({"capabilities":{"add":["CHOWN","KILL"]}})")), B, "latest", ""},
      {"hostPath", PodJson(Spec(psc, sc, R"("volumes":[{"name":"h","hostPath":{"path":"/"}}])")), B,
       "latest", "hostPath volumes"},
      {"hostPort", PodJson(Spec(psc, sc, "", R"("ports":[{"containerPort":80,"hostPort":80}])")), B,
       "latest", "hostPort"},
      {"hostPort 0", PodJson(Spec(psc, sc, "", R"("ports":[{"containerPort":80,"hostPort":0}])")), B,
       "latest", ""},
      {"apparmor unconfined",
       PodJson(Spec(psc, sc), R"({"name":"p","annotations":{"container.apparmor.security.beta.kubernetes.io/app":"unconfined"}})"),
       B, "latest", "forbidden AppArmor profile"},
      {"apparmor localhost",
       PodJson(Spec(psc, sc), R"({"name":"p","annotations":{"container.apparmor.security.beta.kubernetes.io/app":"localhost/x"}})"),
       B, "latest", ""},
      {"apparmor field unconfined", PodJson(Spec(R"({"appArmorProfile":{"type":"Unconfined"}})", sc)), B,
       "latest", "forbidden AppArmor profile"},
      {"apparmor field runtime", PodJson(Spec(psc, R"({"appArmorProfile":{"type":"RuntimeDefault"}})")), B,
       "latest", ""},
      {"selinux type", PodJson(Spec(R"({"seLinuxOptions":{"type":"spc_t"}})", sc)), B, "latest", "seLinuxOptions"},
      {"selinux user", PodJson(Spec(psc, R"({"seLinuxOptions":{"user":"u"}})")), B, "latest", "seLinuxOptions"},
      {"selinux role", PodJson(Spec(psc, R"({"seLinuxOptions":{"role":"r"}})")), B, "latest", "seLinuxOptions"},
      {"selinux level", PodJson(Spec(R"({"seLinuxOptions":{"level":"s0:c1"}})", sc)), B, "latest", ""},
      {"procMount Unmasked", PodJson(Spec(psc, R"({"procMount":"Unmasked"})")), B, "latest", "procMount"},
      {"procMount Default", PodJson(Spec(psc, R"({"procMount":"Default"})")), B, "latest", ""},
      {"seccomp Unconfined pod", PodJson(Spec(R"({"seccompProfile":{"type":"Unconfined"}})", sc)), B,
       "latest", "seccompProfile"},
      {"seccomp Unconfined container", PodJson(Spec(psc, R"({"seccompProfile":{"type":"Unconfined"}})")), B,
       "latest", "seccompProfile"},
      {"seccomp unset", PodJson(Spec("{}", "{}")), B, "latest", ""},
      {"sysctl unsafe", PodJson(Spec(R"({"sysctls":[{"name":"kernel.msgmax","value":"1"}]})", sc)), B,
       "latest", "forbidden sysctls"},
      {"sysctl safe", PodJson(Spec(R"({"sysctls":[{"name":"net.ipv4.ping_group_range","value":"0 1"}]})", sc)),
       B, "latest", ""},
      {"hostProcess pod", PodJson(Spec(R"({"windowsOptions":{"hostProcess":true}})", sc)), B, "latest",
       "hostProcess"},
      {"hostProcess container", PodJson(Spec(psc, R"({"windowsOptions":{"hostProcess":true}})")), B,
       "latest", "hostProcess"},
      {"probe host", PodJson(Spec(psc, sc, "", R"("livenessProbe":{"tcpSocket":{"host":"1.2.3.4","port":1}})")),
       B, "latest", "probe or lifecycle host"},
      {"lifecycle host", PodJson(Spec(psc, sc, "", R"("lifecycle":{"preStop":{"httpGet":{"host":"h","port":1}}})")),
       B, "latest", "probe or lifecycle host"},
      {"probe host before 1.34", PodJson(Spec(psc, sc, "", R"("livenessProbe":{"tcpSocket":{"host":"1.2.3.4","port":1}})")),
       B, "v1.33", ""},
  });
}

TEST_CASE("restricted controls on pods", "[scan][pss]") {
  std::string sc = kRestrictedSc, psc = kRestrictedPodSc;
  Run({
      {"escalation unset", PodJson(Spec(psc, R"({"capabilities":{"drop":["ALL"]}})")), R, "latest",
       "allowPrivilegeEscalation != false"},
      {"escalation true", PodJson(Spec(psc, R"({"allowPrivilegeEscalation":true,"capabilities":{"drop":["ALL"]}})")),
       R, "latest", "allowPrivilegeEscalation != false"},
      {"runAsNonRoot pod false", PodJson(Spec(R"({"runAsNonRoot":false,"seccompProfile":{"type":"RuntimeDefault"}})", sc)),
       R, "latest", "runAsNonRoot != true"},
      {"runAsNonRoot only container",
       PodJson(Spec(R"({"seccompProfile":{"type":"RuntimeDefault"}})",
                    R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsNonRoot":true})")),
       R, "latest", ""},
      {"container overrides pod runAsNonRoot",
       PodJson(Spec(psc, R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsNonRoot":false})")),
       R, "latest", "runAsNonRoot != true"},
      {"runAsUser 0 pod", PodJson(Spec(R"({"runAsNonRoot":true,"runAsUser":0,"seccompProfile":{"type":"RuntimeDefault"}})", sc)),
       R, "latest", "runAsUser=0"},
      {"runAsUser 0 container",
       PodJson(Spec(psc, R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsUser":0})")), R,
       "latest", "runAsUser=0"},
      {"seccomp container only",
       PodJson(Spec(R"({"runAsNonRoot":true})",
                    R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"seccompProfile":{"type":"Localhost","localhostProfile":"p"}})")),
       R, "latest", ""},
      {"seccomp missing", PodJson(Spec(R"({"runAsNonRoot":true})", sc)), R, "latest", "seccompProfile"},
      {"drop ALL missing", PodJson(Spec(psc, R"({"allowPrivilegeEscalation":false})")), R, "latest",
       "unrestricted capabilities"},
      {"drop all lowercase", PodJson(Spec(psc, R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["all"]}})")),
       R, "latest", "unrestricted capabilities"},
      {"add NET_BIND_SERVICE",
       PodJson(Spec(psc, R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"],"add":["NET_BIND_SERVICE"]}})")),
       R, "latest", ""},
      {"add CHOWN", PodJson(Spec(psc, R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"],"add":["CHOWN"]}})")),
       R, "latest", "unrestricted capabilities"},
      {"nfs volume", PodJson(Spec(psc, sc, R"("volumes":[{"name":"n","nfs":{"server":"s","path":"/"}}])")), R,
       "latest", "restricted volume types"},
      {"allowed volumes",
       PodJson(Spec(psc, sc,
                    R"("volumes":[{"name":"a","emptyDir":{}},{"name":"b","secret":{"secretName":"s"}},{"name":"c","csi":{"driver":"d"}},{"name":"d","image":{"reference":"r"}}])")),
       R, "latest", ""},
      {"hostPath is reported once by restricted",
       PodJson(Spec(psc, sc, R"("volumes":[{"name":"h","hostPath":{"path":"/"}}])")), R, "latest",
       "restricted volume types"},
  });
}

TEST_CASE("init and ephemeral containers are checked like containers", "[scan][pss]") {
  auto pod = [](const std::string& list, const std::string& sc) {
    return PodJson(fmt::format(
        R"({{"securityContext":{},"containers":[{{"name":"app","image":"i:1","securityContext":{}}}],"{}":[{{"name":"x","image":"i:1","securityContext":{}}}]}})",
        kRestrictedPodSc, kRestrictedSc, list, sc));
  };
  for (std::string list : {"initContainers", "ephemeralContainers"}) {
    DYNAMIC_SECTION(list) {
      auto v = Evaluate(pod(list, R"({"privileged":true})"), B);
      REQUIRE(v.size() == 1);
      CHECK(v[0].detail == "container \"x\" must not set securityContext.privileged=true");
      v = Evaluate(pod(list, "{}"), R);
      CHECK(Reasons(v).find("containers") == std::string::npos);  // one container named
      CHECK(Reasons(v).find("\"x\"") != std::string::npos);
      CHECK(Evaluate(pod(list, kRestrictedSc), R).empty());
    }
  }
  // Messages list init containers before containers, then ephemeral ones.
  std::string three = PodJson(
      R"({"containers":[{"name":"c","image":"i","securityContext":{"privileged":true}}],)"
      R"("initContainers":[{"name":"i","image":"i","securityContext":{"privileged":true}}],)"
      R"("ephemeralContainers":[{"name":"e","image":"i","securityContext":{"privileged":true}}]})");
  auto v = Evaluate(three, B);
  REQUIRE(v.size() == 1);
  CHECK(v[0].detail == "containers \"i\", \"c\", \"e\" must not set securityContext.privileged=true");
}

TEST_CASE("workload templates are evaluated through their pod template", "[scan][pss]") {
  auto doc = json::Parse(R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"annotations":{"container.apparmor.security.beta.kubernetes.io/app":"unconfined"}},"spec":{"containers":[{"name":"app","image":"i"}]}}}}}})");
  REQUIRE(doc);
  Object o = MakeObject(*doc);
  PodTemplate t = PodTemplateOf(o);
  REQUIRE(t.spec);
  auto v = EvaluatePodSecurity({t.metadata, t.spec, false}, B, PssVersion::Latest());
  REQUIRE(v.size() == 1);
  CHECK(v[0].reason == "forbidden AppArmor profile");
  for (std::string kind : {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}) {
    auto d = json::Parse(fmt::format(
        R"({{"kind":"{}","metadata":{{"name":"w"}},"spec":{{"template":{{"spec":{{"hostPID":true,"containers":[{{"name":"a","image":"i"}}]}}}}}}}})",
        kind));
    Object w = MakeObject(*d);
    PodTemplate wt = PodTemplateOf(w);
    INFO(kind);
    REQUIRE(wt.spec);
    CHECK(StrictestLevel({wt.metadata, wt.spec, false}, PssVersion::Latest()) == PssLevel::kPrivileged);
  }
  auto pt = json::Parse(R"({"kind":"PodTemplate","metadata":{"name":"t"},"template":{"spec":{"containers":[{"name":"a","image":"i"}]}}})");
  PodTemplate ptt = PodTemplateOf(MakeObject(*pt));
  REQUIRE(ptt.spec);
  CHECK(StrictestLevel({ptt.metadata, ptt.spec, false}, PssVersion::Latest()) == PssLevel::kBaseline);
}

TEST_CASE("version boundaries of every versioned check", "[scan][pss]") {
  std::string psc = kRestrictedPodSc, sc = kRestrictedSc;
  std::string no_escalation_field = PodJson(Spec(psc, R"({"capabilities":{"drop":["ALL"]}})"));
  std::string user0 = PodJson(Spec(R"({"runAsNonRoot":true,"runAsUser":0,"seccompProfile":{"type":"RuntimeDefault"}})", sc));
  std::string no_drop = PodJson(Spec(psc, R"({"allowPrivilegeEscalation":false})"));
  std::string add_sys_admin = PodJson(Spec(psc, R"({"allowPrivilegeEscalation":false,"capabilities":{"add":["SYS_ADMIN"]}})"));
  std::string no_seccomp = PodJson(Spec(R"({"runAsNonRoot":true})", sc));
  std::string unconfined_field = PodJson(Spec(R"({"runAsNonRoot":true,"seccompProfile":{"type":"Unconfined"}})", sc));
  std::string unconfined_annotation =
      PodJson(Spec(R"({"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}})", sc),
              R"({"name":"p","annotations":{"seccomp.security.alpha.kubernetes.io/pod":"unconfined"}})");
  auto sysctl = [&](const std::string& name) {
    return PodJson(Spec(fmt::format(R"({{"sysctls":[{{"name":"{}","value":"1"}}]}})", name), sc));
  };
  std::string windows = PodJson(R"({"os":{"name":"windows"},"securityContext":{"runAsNonRoot":true},"containers":[{"name":"app","image":"i"}]})");
  std::string engine = PodJson(Spec(R"({"seLinuxOptions":{"type":"container_engine_t"}})", sc));
  std::string user_ns = PodJson(Spec(R"({"seccompProfile":{"type":"RuntimeDefault"},"runAsUser":0})", sc, R"("hostUsers":false)"));
  std::string user_ns_proc = PodJson(Spec(psc, R"({"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"procMount":"Unmasked"})", R"("hostUsers":false)"));
  Run({
      {"allowPrivilegeEscalation starts at 1.8", no_escalation_field, R, "v1.7", ""},
      {"allowPrivilegeEscalation at 1.8", no_escalation_field, R, "v1.8", "allowPrivilegeEscalation != false"},
      {"runAsUser 0 before 1.23", user0, R, "v1.22", ""},
      {"runAsUser 0 at 1.23", user0, R, "v1.23", "runAsUser=0"},
      {"drop ALL not required before 1.22", no_drop, R, "v1.21", ""},
      {"drop ALL required at 1.22", no_drop, R, "v1.22", "unrestricted capabilities"},
      {"baseline capabilities still apply at restricted 1.21", add_sys_admin, R, "v1.21", "non-default capabilities"},
      {"restricted capabilities replace baseline at 1.22", add_sys_admin, R, "v1.22", "unrestricted capabilities"},
      {"seccomp not required before 1.19", no_seccomp, R, "v1.18", ""},
      {"seccomp required at 1.19", no_seccomp, R, "v1.19", "seccompProfile"},
      {"seccomp fields ignored before 1.19", unconfined_field, B, "v1.18", ""},
      {"seccomp annotations checked before 1.19", unconfined_annotation, B, "v1.18", "seccompProfile"},
      {"seccomp annotations ignored from 1.19", unconfined_annotation, B, "v1.19", ""},
      {"reserved ports sysctl before 1.27", sysctl("net.ipv4.ip_local_reserved_ports"), B, "v1.26", "forbidden sysctls"},
      {"reserved ports sysctl at 1.27", sysctl("net.ipv4.ip_local_reserved_ports"), B, "v1.27", ""},
      {"keepalive sysctl before 1.29", sysctl("net.ipv4.tcp_keepalive_time"), B, "v1.28", "forbidden sysctls"},
      {"keepalive sysctl at 1.29", sysctl("net.ipv4.tcp_fin_timeout"), B, "v1.29", ""},
      {"tcp_rmem sysctl before 1.32", sysctl("net.ipv4.tcp_rmem"), B, "v1.31", "forbidden sysctls"},
      {"tcp_wmem sysctl at 1.32", sysctl("net.ipv4.tcp_wmem"), B, "v1.32", ""},
      {"container_engine_t before 1.31", engine, B, "v1.30", "seLinuxOptions"},
      {"container_engine_t at 1.31", engine, B, "v1.31", ""},
      {"windows pods need Linux fields before 1.25", windows, R, "v1.24", "seccompProfile"},
      {"windows pods exempt at 1.25", windows, R, "v1.25", ""},
      {"user namespaces do not relax runAsUser before 1.35", user_ns, R, "v1.34", "runAsUser=0"},
      {"user namespaces relax runAsUser at 1.35", user_ns, R, "v1.35", ""},
      {"user namespaces relax baseline procMount at 1.35", user_ns_proc, B, "v1.35", ""},
      {"restricted procMount at 1.35 ignores user namespaces", user_ns_proc, R, "v1.35", "procMount"},
      {"versions above the newest behave as latest", no_seccomp, R, "v1.99", "seccompProfile"},
  });
}

TEST_CASE("the emulated API server decides latest, in-place amendments and pod preparation", "[scan][pss]") {
  PssEnvironment v126;
  v126.kubernetes_minor = 26;
  std::string sc = kRestrictedSc;
  // latest on a 1.26 server is the 1.26 policy: the 1.27 sysctl is forbidden.
  std::string reserved = PodJson(Spec(R"({"sysctls":[{"name":"net.ipv4.ip_local_reserved_ports","value":"1"}]})", sc));
  CHECK_FALSE(Evaluate(reserved, B, PssVersion::Latest(), v126).empty());
  CHECK(Evaluate(reserved, B, PssVersion::Latest()).empty());
  // AppArmor fields exist from 1.30; image volumes pass restricted from 1.33.
  std::string apparmor_field = PodJson(Spec(R"({"appArmorProfile":{"type":"Unconfined"}})", sc));
  CHECK(Evaluate(apparmor_field, B, PssVersion::Of(20), v126).empty());
  CHECK_FALSE(Evaluate(apparmor_field, B, PssVersion::Of(20)).empty());
  std::string image = PodJson(Spec(kRestrictedPodSc, sc, R"("volumes":[{"name":"i","image":{"reference":"r"}}])"));
  CHECK_FALSE(Evaluate(image, R, PssVersion::Latest(), v126).empty());
  CHECK(Evaluate(image, R, PssVersion::Of(25)).empty());
  // procMount is dropped by servers that do not enable ProcMountType (before 1.33).
  std::string unmasked = PodJson(Spec(kRestrictedPodSc, R"({"procMount":"Unmasked"})"));
  CHECK(Evaluate(unmasked, B, PssVersion::Latest(), v126).empty());
  CHECK_FALSE(Evaluate(unmasked, B, PssVersion::Latest()).empty());
  // 1.19-1.26 servers copy seccomp annotations into unset fields of Pods.
  std::string annotated = PodJson(Spec(R"({"runAsNonRoot":true})", sc),
                                  R"({"name":"p","annotations":{"seccomp.security.alpha.kubernetes.io/pod":"runtime/default"}})");
  CHECK(Evaluate(annotated, R, PssVersion::Latest(), v126).empty());
  CHECK_FALSE(Evaluate(annotated, R, PssVersion::Latest(), v126, /*is_pod=*/false).empty());
  CHECK_FALSE(Evaluate(annotated, R, PssVersion::Latest()).empty());
  std::string container_annotation = PodJson(Spec("{}", "{}"),
      R"({"name":"p","annotations":{"container.seccomp.security.alpha.kubernetes.io/app":"unconfined"}})");
  CHECK_FALSE(Evaluate(container_annotation, B, PssVersion::Latest(), v126).empty());
  CHECK(Evaluate(container_annotation, B, PssVersion::Latest()).empty());
  // With hostNetwork, hostPort defaults to containerPort (pods; templates before 1.28).
  std::string host_network = PodJson(Spec(kRestrictedPodSc, sc, R"("hostNetwork":true)", R"("ports":[{"containerPort":8080}])"));
  auto v = Evaluate(host_network, B);
  REQUIRE(v.size() == 2);
  CHECK(v[0].detail == "hostNetwork=true");
  CHECK(v[1].detail == "container \"app\" uses hostPort 8080");
  CHECK(Evaluate(host_network, B, PssVersion::Latest(), {}, /*is_pod=*/false).size() == 1);
  CHECK(Evaluate(host_network, B, PssVersion::Latest(), v126, /*is_pod=*/false).size() == 2);
}

TEST_CASE("messages are the admission's, in its order", "[scan][pss]") {
  std::string pod = PodJson(
      R"({"hostPID":true,"hostNetwork":true,"securityContext":{"sysctls":[{"name":"a.b","value":"1"},{"name":"kernel.msgmax","value":"1"}]},)"
      R"("containers":[{"name":"b","image":"i","securityContext":{"capabilities":{"add":["SYS_ADMIN","NET_RAW"]}},"ports":[{"containerPort":9,"hostPort":9090},{"containerPort":1,"hostPort":80}]},)"
      R"({"name":"a","image":"i","securityContext":{"capabilities":{"add":["BPF"]}}}],)"
      R"("volumes":[{"name":"v2","hostPath":{"path":"/"}},{"name":"v1","nfs":{"server":"s","path":"/"}}]})");
  auto v = Evaluate(pod, R, PssVersion::Of(23));
  CHECK(PssViolationMessage(R, PssVersion::Of(23), v) ==
        "violates PodSecurity \"restricted:v1.23\": host namespaces (hostNetwork=true, hostPID=true), "
        "hostPort (container \"b\" uses hostPorts 80, 9090), forbidden sysctls (a.b, kernel.msgmax), "
        "allowPrivilegeEscalation != false (containers \"b\", \"a\" must set "
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers \"b\", \"a\" "
        "must set securityContext.capabilities.drop=[\"ALL\"]; containers \"b\", \"a\" must not include "
        "\"BPF\", \"NET_RAW\", \"SYS_ADMIN\" in securityContext.capabilities.add), restricted volume types "
        "(volumes \"v2\", \"v1\" use restricted volume types \"hostPath\", \"nfs\"), runAsNonRoot != true "
        "(pod or containers \"b\", \"a\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or "
        "containers \"b\", \"a\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
        "\"Localhost\")");
  // Baseline lists the baseline capability check that restricted replaces.
  auto b = Evaluate(pod, B, PssVersion::Of(23));
  CHECK(PssViolationMessage(B, PssVersion::Of(23), b).find(
            "non-default capabilities (containers \"b\", \"a\" must not include \"BPF\", \"NET_RAW\", "
            "\"SYS_ADMIN\" in securityContext.capabilities.add)") != std::string::npos);
}

TEST_CASE("checks apply from their first policy version", "[scan][pss]") {
  CHECK_FALSE(PssCheckApplies(PssCheck::kRunAsUser, 22));
  CHECK(PssCheckApplies(PssCheck::kRunAsUser, 23));
  CHECK_FALSE(PssCheckApplies(PssCheck::kHostProbesAndHostLifecycle, 33));
  CHECK(PssCheckApplies(PssCheck::kHostProbesAndHostLifecycle, 34));
  CHECK(EffectiveMinor(PssVersion::Latest(), {}) == kNewestKubernetesMinor);
  CHECK(EffectiveMinor(PssVersion::Of(40), {26}) == 26);
  CHECK(EffectiveMinor(PssVersion::Of(20), {26}) == 20);
  auto checks = PssChecksForLevel(R, 26);
  // Overridden baseline checks are not run at restricted.
  for (PssCheck c : checks) {
    CHECK(c != PssCheck::kCapabilitiesBaseline);
    CHECK(c != PssCheck::kSeccompProfileBaseline);
    CHECK(c != PssCheck::kHostPathVolumes);
  }
  auto old = PssChecksForLevel(R, 18);
  CHECK(std::find(old.begin(), old.end(), PssCheck::kSeccompProfileBaseline) != old.end());
  CHECK(std::find(old.begin(), old.end(), PssCheck::kCapabilitiesBaseline) != old.end());
  CHECK(PssChecksForLevel(PssLevel::kPrivileged, 26).empty());
}

TEST_CASE("policy labels parse as PodSecurity admission reads them", "[scan][pss]") {
  PssVersion v;
  CHECK(ParsePssVersion("latest", &v));
  CHECK(v.latest);
  CHECK(ParsePssVersion("v1.23", &v));
  CHECK(v == PssVersion::Of(23));
  CHECK(v.ToString() == "v1.23");
  for (std::string bad : {"1.23", "v1", "v2.1", "v1.023", "v1.x", "", "Latest"}) {
    INFO(bad);
    CHECK_FALSE(ParsePssVersion(bad, &v));
  }
  auto labels = [](const std::string& j) { return json::Parse(j); };
  auto none = labels("{}");
  NamespacePolicy p = EnforcePolicy(&*none);
  CHECK(p.level == PssLevel::kPrivileged);
  CHECK_FALSE(p.labeled);
  auto set = labels(R"({"pod-security.kubernetes.io/enforce":"baseline","pod-security.kubernetes.io/enforce-version":"v1.24"})");
  p = EnforcePolicy(&*set);
  CHECK(p.level == PssLevel::kBaseline);
  CHECK(p.version == PssVersion::Of(24));
  auto invalid = labels(R"({"pod-security.kubernetes.io/enforce":"strict","pod-security.kubernetes.io/enforce-version":"v9"})");
  p = EnforcePolicy(&*invalid);
  CHECK(p.level == PssLevel::kRestricted);
  CHECK(p.version.latest);
  CHECK(p.invalid);
}

TEST_CASE("the strictest level a pod meets", "[scan][pss]") {
  auto restricted = json::Parse(PodJson(Spec(kRestrictedPodSc, kRestrictedSc)));
  auto host = json::Parse(PodJson(R"({"hostIPC":true,"containers":[{"name":"a","image":"i"}]})"));
  auto bare = json::Parse(PodJson(R"({"containers":[{"name":"a","image":"i"}]})"));
  auto pod = [](const json::Document& d) {
    return PssPod{json::Find(d, {"metadata"}), json::Find(d, {"spec"}), true};
  };
  CHECK(StrictestLevel(pod(*restricted), PssVersion::Latest()) == PssLevel::kRestricted);
  CHECK(StrictestLevel(pod(*bare), PssVersion::Latest()) == PssLevel::kBaseline);
  CHECK(StrictestLevel(pod(*bare), PssVersion::Of(7)) == PssLevel::kBaseline);
  CHECK(StrictestLevel(pod(*host), PssVersion::Latest()) == PssLevel::kPrivileged);
}
