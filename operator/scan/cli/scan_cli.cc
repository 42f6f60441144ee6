#include "scan/cli/scan_cli.h"

#include <fmt/format.h>

#include <fstream>
#include <memory>

#include "scan/cli/sources.h"
#include "scan/config.h"
#include "scan/engine.h"
#include "scan/output.h"
#include "scan/score.h"

namespace srexpert::scan::cli {

namespace {

int Usage(std::ostream& err, const std::string& message) {
  err << "srexpert-scan: " << message << "\n";
  return kExitUsage;
}
int Failure(std::ostream& err, const std::string& message) {
  err << "srexpert-scan: " << message << "\n";
  return kExitError;
}

std::string ReadConfig(const std::string& path, ScanConfig* config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fmt::format("{}: cannot read", path);
  std::string text;
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > (4u << 20)) return fmt::format("{}: larger than 4 MiB", path);
  }
  std::string error = ParseConfig(text, config);
  return error.empty() ? "" : fmt::format("{}: {}", path, error);
}

}  // namespace

int RunScanCli(const CliOptions& o, std::istream& in, std::ostream& out, std::ostream& err) {
  if (o.output != "table" && o.output != "json" && o.output != "sarif") {
    return Usage(err, fmt::format("-o {}: use table, json or sarif", o.output));
  }
  Severity fail_on = Severity::kIgnore;
  if (!o.fail_on.empty()) {
    if (o.fail_on == "danger") fail_on = Severity::kDanger;
    else if (o.fail_on == "warning") fail_on = Severity::kWarning;
    else return Usage(err, fmt::format("--fail-on {}: use danger or warning", o.fail_on));
  }
  ScanOptions options;
  if (!ParsePssLevel(o.pss_level, &options.pss_level)) {
    return Usage(err, fmt::format("--pss-level {}: use baseline, restricted or privileged", o.pss_level));
  }
  if (!o.pss_version.empty()) {
    PssVersion v;
    if (!ParsePssVersion(o.pss_version, &v)) {
      return Usage(err, fmt::format("--pss-version {}: use latest or v1.<minor>", o.pss_version));
    }
    options.pss_version = v;
  }
  if (!o.kubernetes_version.empty()) {
    PssVersion v;
    if (!ParsePssVersion(o.kubernetes_version, &v) || v.latest) {
      return Usage(err, fmt::format("--kubernetes-version {}: use v1.<minor>", o.kubernetes_version));
    }
    if (v.minor > kNewestKubernetesMinor) {
      err << fmt::format("srexpert-scan: --kubernetes-version {}: evaluating as v1.{}, the newest "
                         "modeled\n",
                         o.kubernetes_version, kNewestKubernetesMinor);
    }
    options.pss_environment.kubernetes_minor = std::min(v.minor, kNewestKubernetesMinor);
  }
  if (o.files.empty() && !o.use_cluster) {
    return Usage(err, "nothing to scan: give -f FILE|DIR|- or --kubeconfig");
  }
  if (!o.ns.empty() && !o.use_cluster) return Usage(err, "--namespace needs --kubeconfig");
  options.only = o.only;
  options.skip = o.skip;
  options.skip_owned = !o.include_owned;

  if (!o.config_file.empty()) {
    auto config = std::make_shared<ScanConfig>();
    std::string error = ReadConfig(o.config_file, config.get());
    if (!error.empty()) return Failure(err, error);
    options.config = config;
  }
  std::string selection = ValidateSelection(options);
  if (!selection.empty()) return Usage(err, "--only/--skip: " + selection);

  ManifestLimits limits;
  limits.max_bytes = o.max_file_bytes;
  std::vector<Manifest> manifests;
  for (const std::string& path : o.files) {
    std::string error = ReadManifestPath(path, in, limits, &manifests);
    if (!error.empty()) return Failure(err, error);
  }
  if (o.use_cluster) {
    std::vector<std::string> warnings;
    std::string error = ListCluster(o.kubeconfig, o.ns, &manifests, &warnings);
    for (const auto& w : warnings) err << "srexpert-scan: warning: " << w << "\n";
    if (!error.empty()) return Failure(err, error);
  }

  std::vector<Object> objects;
  objects.reserve(manifests.size());
  for (const Manifest& m : manifests) {
    Object obj = MakeObject(*m.value, m.kind, m.api_version);
    obj.source = m.source;
    obj.line = m.line;
    obj.context_only = m.context_only;
    objects.push_back(std::move(obj));
  }
  Report report = Scan(objects, options);
  Summary summary = Summarize(report);
  if (o.output == "json") {
    out << RenderJson(report, summary);
  } else if (o.output == "sarif") {
    out << RenderSarif(report, SREXPERT_VERSION);
  } else {
    out << RenderTable(report, summary);
  }
  out.flush();
  if (fail_on != Severity::kIgnore && HasFailures(report, fail_on)) return kExitFindings;
  return kExitOk;
}

}  // namespace srexpert::scan::cli
