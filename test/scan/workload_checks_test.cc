// Polaris' pod and container checks (operator/scan/workload_checks.cc): the
// rules where Polaris' schemas say more than "field set or not" — run as
// root across pod and container, the insecure-capabilities oneOf, Linux
// hardening's alternatives, image tags, init containers and Jobs.
#include <catch2/catch.hpp>

#include "test/scan/scan_test_support.h"

using namespace srexpert;
using namespace srexpert::testing::scan;

namespace {

// The verdict of `check` on the model's container "app" (or pod) after the patches.
bool Passes(const std::string& check, const std::string& container_patch, const std::string& pod_patch = "{}",
            const std::string& object_patch = "{}") {
  auto s = ScanText(ModelStream(container_patch, pod_patch, object_patch));
  auto r = Results(*s, check);
  INFO(check << "\n" << Describe(*s, r));
  REQUIRE_FALSE(r.empty());
  bool passed = true;
  for (const auto* f : r) passed &= f->passed;
  return passed;
}

}  // namespace

TEST_CASE("run-as-root: the pod's setting holds unless the container undoes it", "[scan][polaris]") {
  const std::string no_container_user = R"({"securityContext":{"runAsNonRoot":null}})";
  CHECK(Passes("run-as-root", no_container_user));  // pod runAsNonRoot + runAsUser 10001
  CHECK_FALSE(Passes("run-as-root", R"({"securityContext":{"runAsNonRoot":null,"runAsUser":0}})"));
  CHECK(Passes("run-as-root", R"({"securityContext":{"runAsNonRoot":null,"runAsUser":5}})",
               R"({"securityContext":{"runAsNonRoot":null,"runAsUser":null}})"));
  CHECK_FALSE(Passes("run-as-root", no_container_user, R"({"securityContext":{"runAsNonRoot":null,"runAsUser":null}})"));
  CHECK(Passes("run-as-root", "{}", R"({"securityContext":{"runAsNonRoot":false,"runAsUser":null}})"));
}

TEST_CASE("insecure-capabilities: ALL, or every default capability, but not both", "[scan][polaris]") {
  CHECK(Passes("insecure-capabilities", R"({"securityContext":{"capabilities":{"drop":["all"]}}})"));
  const std::string each =
      R"("NET_ADMIN","CHOWN","DAC_OVERRIDE","FSETID","FOWNER","MKNOD","NET_RAW","SETGID","SETUID","SETFCAP","SETPCAP","NET_BIND_SERVICE","SYS_CHROOT","KILL","AUDIT_WRITE")";
  CHECK(Passes("insecure-capabilities", R"({"securityContext":{"capabilities":{"drop":[)" + each + "]}}}"));
  CHECK_FALSE(Passes("insecure-capabilities", R"({"securityContext":{"capabilities":{"drop":["ALL",)" + each + "]}}}"));
  CHECK_FALSE(Passes("insecure-capabilities", R"({"securityContext":{"capabilities":null}})"));
}

TEST_CASE("dangerous-capabilities ignores case and looks at add only", "[scan][polaris]") {
  CHECK_FALSE(Passes("dangerous-capabilities", R"({"securityContext":{"capabilities":{"add":["sys_admin"]}}})"));
  CHECK_FALSE(Passes("dangerous-capabilities", R"({"securityContext":{"capabilities":{"add":["ALL"]}}})"));
  CHECK(Passes("dangerous-capabilities", R"({"securityContext":{"capabilities":{"add":["NET_BIND_SERVICE"]}}})"));
}

TEST_CASE("linux-hardening accepts any one of seccomp, SELinux, AppArmor or dropped capabilities",
          "[scan][polaris]") {
  const std::string no_seccomp = R"({"securityContext":{"seccompProfile":null}})";
  const std::string no_caps = R"({"securityContext":{"capabilities":null}})";
  CHECK_FALSE(Passes("linux-hardening", no_caps, no_seccomp));
  CHECK(Passes("linux-hardening", R"({"securityContext":{"capabilities":{"drop":["NET_RAW"]}}})", no_seccomp));
  CHECK_FALSE(Passes("linux-hardening", R"({"securityContext":{"capabilities":{"drop":["NET_RAW"],"add":["all"]}}})", no_seccomp));
  CHECK(Passes("linux-hardening", R"({"securityContext":{"capabilities":null,"seccompProfile":{"type":"RuntimeDefault"}}})", no_seccomp));
  CHECK_FALSE(Passes("linux-hardening", R"({"securityContext":{"capabilities":null,"seccompProfile":{"type":"Unconfined"}}})", no_seccomp));
  CHECK(Passes("linux-hardening", no_caps, R"({"securityContext":{"seccompProfile":null,"seLinuxOptions":{"level":"s0"}}})"));
  CHECK(Passes("linux-hardening", R"({"securityContext":{"capabilities":null,"seLinuxOptions":{"type":"container_t"}}})", no_seccomp));
  CHECK(Passes("linux-hardening", no_caps, no_seccomp,
               R"({"spec":{"template":{"metadata":{"annotations":{"container.apparmor.security.beta.kubernetes.io/app":"runtime/default"}}}}})"));
  // A confining pod-level profile holds unless the container sets Unconfined.
  CHECK(Passes("linux-hardening", no_caps));
  CHECK_FALSE(Passes("linux-hardening", R"({"securityContext":{"capabilities":null,"seccompProfile":{"type":"Unconfined"}}})"));
}

TEST_CASE("image-tag: a tag other than latest", "[scan][polaris]") {
  CHECK(Passes("image-tag", R"({"image":"registry:5000/app:1"})"));
  CHECK(Passes("image-tag", R"({"image":"app@sha256:abc"})"));
  CHECK_FALSE(Passes("image-tag", R"({"image":"app"})"));
  CHECK_FALSE(Passes("image-tag", R"({"image":"app:latest"})"));
  CHECK_FALSE(Passes("image-tag", R"({"image":"app:"})"));
  CHECK_FALSE(Passes("image-tag", R"({"image":null})"));
}

TEST_CASE("host checks: explicit false and hostPort 0 pass", "[scan][polaris]") {
  CHECK(Passes("host-network", "{}", R"({"hostNetwork":false})"));
  CHECK(Passes("host-port", R"({"ports":[{"containerPort":80,"hostPort":0}]})"));
  CHECK(Passes("host-process", "{}", R"({"securityContext":{"windowsOptions":{"hostProcess":false}}})"));
  CHECK(Passes("proc-mount", R"({"securityContext":{"procMount":"Default"}})"));
}

TEST_CASE("probes and resources skip init containers, probes skip Jobs", "[scan][polaris]") {
  auto s = ScanText(ModelStream("{}", R"({"initContainers":[{"name":"init","image":"i:1"}]})"));
  CHECK(Results(*s, "readiness-probe", "target", "init").empty());
  CHECK(Results(*s, "cpu-requests", "target", "init").empty());
  auto tag = Results(*s, "image-pull-policy", "target", "init");
  REQUIRE(tag.size() == 1);  // init containers still get the image checks
  CHECK_FALSE(tag[0]->passed);
  auto job = ScanText(
      "apiVersion: batch/v1\nkind: Job\nmetadata: {name: target, namespace: apps}\n"
      "spec: {template: {spec: {restartPolicy: Never, containers: [{name: app, image: 'i:1'}]}}}\n");
  CHECK(Results(*job, "liveness-probe").empty());
  CHECK(Results(*job, "topology-spread").empty());
  CHECK(Results(*job, "cpu-limits").size() == 1);
}

TEST_CASE("service-account-token-automount looks at the pod and its ServiceAccount", "[scan][polaris]") {
  // The model: the pod does not set it, its ServiceAccount sets false.
  CHECK(Passes("service-account-token-automount", "{}", R"({"automountServiceAccountToken":null})"));
  // Without the ServiceAccount's false, the token is mounted.
  auto s = ScanText(ModelDeployment("{}", R"({"automountServiceAccountToken":null})"));
  auto r = Results(*s, "service-account-token-automount");
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0]->passed);
  CHECK(s->report.Message(*r[0]) == "Neither the pod nor ServiceAccount target sets automountServiceAccountToken: false");
}
