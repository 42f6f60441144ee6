// scan_bench: the figures of docs/performance.md, "Scans (security and
// policy checks)".
//
// Builds a realistic cluster in memory — 10,000 pods (~9 KB each,
// test/stream/realistic_objects.h) in 1,000 Deployments over 20
// namespaces, the 1,000 Deployments themselves, and per namespace a
// Namespace, ServiceAccount, NetworkPolicy, PodDisruptionBudget,
// HorizontalPodAutoscaler and ConfigMap, plus 600 Roles/RoleBindings and
// 200 ClusterRoles/ClusterRoleBindings (some aggregated) — and runs the
// whole engine (every check, namespace readiness) over it. The pods' owners
// (ReplicaSets) are not in the input, so every pod is checked as well as
// every Deployment.
//
// Reported: the full-scan time (best and median of --runs), the extra peak
// memory of one scan over the loaded objects (VmHWM after the scan minus
// VmRSS before it, with the high-water mark reset through
// /proc/self/clear_refs), the number of results, and the time to summarise
// and render JSON (not part of the target). Targets: scan <= 250 ms,
// extra peak <= 32 MiB. Not a test: run it by hand, see docs/performance.md.
#include <fmt/format.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "scan/engine.h"
#include "scan/output.h"
#include "scan/score.h"
#include "test/stream/realistic_objects.h"

using namespace srexpert;
using Clock = std::chrono::steady_clock;

namespace {

int64_t StatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string k;
  while (in >> k) {
    if (k == key) {
      int64_t v = 0;
      in >> v;
      return v;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return -1;
}

bool ResetPeak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  return static_cast<bool>(out);
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// CPU time of this thread, in ms: what a scan costs when it has a core to
// itself (wall time also counts the time other processes held the core).
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Objects {
  std::vector<std::unique_ptr<rapidjson::Document>> docs;
  std::vector<scan::Object> objects;
  void Add(const std::string& json, std::string_view kind = {}) {
    docs.push_back(std::make_unique<rapidjson::Document>(testing::ParseFixture(json)));
    objects.push_back(scan::MakeObject(*docs.back(), kind));
  }
  void Add(rapidjson::Document doc) {
    docs.push_back(std::make_unique<rapidjson::Document>(std::move(doc)));
    objects.push_back(scan::MakeObject(*docs.back()));
  }
};

void AddRbac(Objects* o, int roles, int cluster_roles) {
  const char* rules[] = {
      R"([{"apiGroups":[""],"resources":["pods","services","configmaps"],"verbs":["get","list","watch"]}])",
      R"([{"apiGroups":["apps"],"resources":["deployments","replicasets"],"verbs":["get","list","watch","update","patch"]}])",
      R"([{"apiGroups":[""],"resources":["pods/exec","pods/log"],"verbs":["create","get"]}])",
      R"([{"apiGroups":[""],"resources":["secrets"],"verbs":["get"],"resourceNames":["tls"]}])",
      R"([{"apiGroups":["*"],"resources":["*"],"verbs":["get","list","watch"]}])",
  };
  for (int i = 0; i < roles; ++i) {
    std::string ns = testing::NamespaceName(i % 20);
    o->Add(fmt::format(R"({{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{{"name":"role-{}","namespace":"{}"}},"rules":{}}})",
                       i, ns, rules[i % 5]));
    o->Add(fmt::format(R"({{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{{"name":"binding-{}","namespace":"{}"}},)"
                       R"("roleRef":{{"apiGroup":"rbac.authorization.k8s.io","kind":"{}","name":"{}"}},)"
                       R"("subjects":[{{"kind":"ServiceAccount","name":"{}","namespace":"{}"}},{{"kind":"Group","name":"team-{}","apiGroup":"rbac.authorization.k8s.io"}}]}})",
                       i, ns, i % 3 ? "Role" : "ClusterRole", i % 3 ? fmt::format("role-{}", i) : fmt::format("cluster-role-{}", i % cluster_roles),
                       i % 7 ? "app" : "default", ns, i % 20));
  }
  for (int i = 0; i < cluster_roles; ++i) {
    if (i % 10 == 9) {
      o->Add(fmt::format(R"({{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{{"name":"cluster-role-{}"}},)"
                         R"("aggregationRule":{{"clusterRoleSelectors":[{{"matchLabels":{{"aggregate-to":"r{}"}}}}]}},"rules":[]}})",
                         i, i % 5));
    } else {
      o->Add(fmt::format(R"({{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{{"name":"cluster-role-{}","labels":{{"aggregate-to":"r{}"}}}},"rules":{}}})",
                         i, i % 5, rules[i % 5]));
    }
    o->Add(fmt::format(R"({{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{{"name":"cluster-binding-{}"}},)"
                       R"("roleRef":{{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-role-{}"}},)"
                       R"("subjects":[{{"kind":"User","name":"user-{}","apiGroup":"rbac.authorization.k8s.io"}}]}})",
                       i, i, i));
  }
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  std::vector<std::string> only;  // a breakdown: time one family
  testing::ClusterLayout layout;
  layout.pods = 10000;
  layout.namespaces = 20;
  layout.pods_per_deployment = 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--pods" && i + 1 < argc) layout.pods = std::max(10, std::atoi(argv[++i]));
    else if (a == "--only" && i + 1 < argc) only.push_back(argv[++i]);
    else {
      std::fprintf(stderr, "usage: scan_bench [--runs N] [--pods N] [--only CHECK|CATEGORY]...\n");
      return 2;
    }
  }

  Objects o;
  auto load_start = Clock::now();
  for (int n = 0; n < layout.namespaces; ++n) {
    std::string ns = testing::NamespaceName(n);
    o.Add(testing::RealisticNamespaceJson(ns, n));
    o.Add(fmt::format(R"({{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"app","namespace":"{}"}},"automountServiceAccountToken":false}})", ns));
    o.Add(fmt::format(R"({{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{{"name":"default","namespace":"{}"}},)"
                      R"("spec":{{"podSelector":{{"matchLabels":{{"tier":"web"}}}},"policyTypes":["Ingress","Egress"],"ingress":[{{}}],"egress":[{{}}]}}}})", ns));
    o.Add(fmt::format(R"({{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{{"name":"default","namespace":"{}"}},)"
                      R"("spec":{{"maxUnavailable":1,"selector":{{"matchLabels":{{"tier":"web"}}}}}}}})", ns));
    o.Add(fmt::format(R"({{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{{"name":"default","namespace":"{}"}},)"
                      R"("spec":{{"scaleTargetRef":{{"kind":"Deployment","name":"{}"}},"minReplicas":2,"maxReplicas":10}}}})", ns,
                      testing::DeploymentName(n)));
    o.Add(fmt::format(R"({{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"settings","namespace":"{}"}},"data":{{"LOG_LEVEL":"info","API_TOKEN":"x"}}}})", ns));
  }
  for (int d = 0; d < layout.Deployments(); ++d) {
    o.Add(testing::RealisticDeploymentJson(testing::DeploymentNamespace(layout, d), testing::DeploymentName(d),
                                           layout.pods_per_deployment, d));
  }
  for (int p = 0; p < layout.pods; ++p) {
    auto place = testing::PlacePod(layout, p);
    o.Add(testing::RealisticPod(place.ns, place.deployment, place.name, place.node, p));
  }
  AddRbac(&o, 600, 200);
  double load_ms = Ms(Clock::now() - load_start);
  int pods = 0, workloads = 0, rbac = 0;
  for (const auto& obj : o.objects) {
    if (obj.ref.kind == "Pod") ++pods;
    else if (scan::IsWorkloadKind(obj.ref.kind)) ++workloads;
    else if (obj.ref.kind.find("Role") != std::string::npos) ++rbac;
  }

  scan::ScanOptions options;
  options.only = only;
  // Memory first, before any scan has grown the heap: one scan and its
  // report over the loaded objects. (A later scan reuses the pages the
  // allocator kept from an earlier one, which would hide its cost.)
  int64_t rss_before = StatusKb("VmRSS:");
  bool peak_reset = ResetPeak();
  size_t results = 0, failed = 0;
  {
    scan::Report report = scan::Scan(o.objects, options);
    results = report.findings.size();
    for (const auto& f : report.findings) failed += !f.passed;
  }
  int64_t peak = StatusKb("VmHWM:");
  double extra_mib = peak_reset ? static_cast<double>(peak - rss_before) / 1024.0 : -1;

  // Time: full scans after that one, best and median.
  std::vector<double> times, cpu_times;
  double render_ms = 0;
  for (int r = 0; r < runs; ++r) {
    auto start = Clock::now();
    double cpu_start = ThreadCpuMs();
    scan::Report report = scan::Scan(o.objects, options);
    cpu_times.push_back(ThreadCpuMs() - cpu_start);
    times.push_back(Ms(Clock::now() - start));
    if (r == 0) {
      auto render_start = Clock::now();
      scan::Summary summary = scan::Summarize(report);
      std::string json = scan::RenderJson(report, summary);
      render_ms = Ms(Clock::now() - render_start);
    }
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu_times.begin(), cpu_times.end());
  double best = times.front(), median = times[times.size() / 2];
  double cpu_best = cpu_times.front(), cpu_median = cpu_times[cpu_times.size() / 2];

  std::printf("scan_bench: %d pods, %d workloads, %d roles/bindings, %zu objects (built in %.0f ms)\n",
              pods, workloads, rbac, o.objects.size(), load_ms);
  std::printf("%-40s %12s %12s\n", "figure", "measured", "target");
  std::printf("%-40s %9.1f ms %9s ms\n", "full scan, best of runs", best, "<= 250");
  std::printf("%-40s %9.1f ms\n", "full scan, median", median);
  std::printf("%-40s %9.1f ms\n", "full scan CPU time, best", cpu_best);
  std::printf("%-40s %9.1f ms\n", "full scan CPU time, median", cpu_median);
  std::printf("%-40s %8.1f MiB %8s MiB\n", "extra peak memory (one scan + its report)", extra_mib, "<= 32");
  std::printf("%-40s %12zu\n", "results (passed or not)", results);
  std::printf("%-40s %12zu\n", "failed results", failed);
  std::printf("%-40s %9.1f ms\n", "summary + JSON rendering (not targeted)", render_ms);
  std::printf("%-40s %9.1f MiB\n", "RSS with the objects loaded", static_cast<double>(rss_before) / 1024.0);
  std::printf("{\"bench\":\"scan\",\"pods\":%d,\"workloads\":%d,\"rbac\":%d,\"scan_ms_best\":%.1f,\"scan_ms_median\":%.1f,"
              "\"scan_cpu_ms_best\":%.1f,\"scan_cpu_ms_median\":%.1f,\"extra_peak_mib\":%.1f,\"results\":%zu,\"render_ms\":%.1f}\n",
              pods, workloads, rbac, best, median, cpu_best, cpu_median, extra_mib, results, render_ms);
  return 0;
}
