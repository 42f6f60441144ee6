// The Pod Security Standards controls as findings (one per workload and
// control), each namespace's readiness for enforcement, and the
// pss-namespace-enforce check.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <unordered_map>

#include "scan/context.h"
#include "scan/json_access.h"
#include "scan/pod_security.h"

namespace srexpert::scan {

namespace {

constexpr std::array<CheckId, 18> kControls = {
    CheckId::kPssHostProcess,      CheckId::kPssHostNamespaces,     CheckId::kPssPrivileged,
    CheckId::kPssCapabilitiesBaseline, CheckId::kPssHostPathVolumes, CheckId::kPssHostPorts,
    CheckId::kPssHostProbes,       CheckId::kPssAppArmor,           CheckId::kPssSelinux,
    CheckId::kPssProcMount,        CheckId::kPssSeccompBaseline,    CheckId::kPssSysctls,
    CheckId::kPssVolumeTypes,      CheckId::kPssPrivilegeEscalation, CheckId::kPssRunAsNonRoot,
    CheckId::kPssRunAsUser,        CheckId::kPssSeccompRestricted,  CheckId::kPssCapabilitiesRestricted,
};

// The Namespace object's labels, or null.
const JsonValue* NamespaceLabels(const Inventory& inv, std::string_view ns) {
  const Object* o = inv.Find("Namespace", "", ns);
  return o ? MetadataField(o->value, "labels") : nullptr;
}

PssVersion PolicyVersion(const ScanContext& ctx, std::string_view ns) {
  if (ctx.options.pss_version) return *ctx.options.pss_version;
  return EnforcePolicy(NamespaceLabels(ctx.inventory, ns)).version;
}

PssPod PodOf(const Inventory& inv, uint32_t i) {
  const PodTemplate& t = inv.pod_template(i);
  return {t.metadata, t.spec, inv.at(i).ref.kind == "Pod"};
}

void ControlFindings(ScanContext& ctx, uint32_t w, PssVersion version,
                     const std::vector<PssCheckResult>& results) {
  int minor = EffectiveMinor(version, ctx.options.pss_environment);
  bool restricted = ctx.options.pss_level == PssLevel::kRestricted;
  for (CheckId control : kControls) {
    if (!ctx.emit.Enabled(control)) continue;
    bool applies = false;
    std::vector<const PssCheckResult*> failing;
    for (const PssCheckResult& r : results) {
      if (PssCheckControl(r.check) != control) continue;
      if (PssCheckLevel(r.check) == PssLevel::kRestricted && !restricted) continue;
      applies = true;
      if (!r.allowed) failing.push_back(&r);
    }
    if (!applies) {
      ctx.emit.Emit(control, w, "", true,
                    fmt::format("Not part of the Pod Security Standards at {} (Kubernetes v1.{})",
                                version.ToString(), minor));
      continue;
    }
    if (failing.empty()) {
      ctx.emit.Emit(control, w, "", true);
      continue;
    }
    std::string message;
    for (const PssCheckResult* r : failing) {
      if (!message.empty()) message += ", ";
      message += r->reason;
      if (!r->detail.empty()) message += " (" + r->detail + ")";
    }
    ctx.emit.Emit(control, w, "", false, std::move(message));
  }
}

std::string PodName(const Object& o) { return o.ref.kind + "/" + o.ref.name; }

NamespaceReadiness NewReadiness(ScanContext& ctx, const std::string& ns) {
  const Inventory& inv = ctx.inventory;
  NamespaceReadiness r;
  r.name = ns;
  r.has_namespace_object = inv.Find("Namespace", "", ns) != nullptr;
  r.enforce = EnforcePolicy(NamespaceLabels(inv, ns));
  r.evaluated_at = PolicyVersion(ctx, ns);
  if (r.enforce.level != PssLevel::kRestricted) {
    r.next = static_cast<PssLevel>(static_cast<int>(r.enforce.level) + 1);
  }
  // Pods when the namespace has any, else its workloads' pod templates.
  r.templates = inv.InNamespace("Pod", ns).empty();
  r.meets = PssLevel::kRestricted;
  return r;
}

// Adds one pod (or template), evaluated once by RunPssChecks, to its
// namespace's readiness.
void AddToReadiness(NamespaceReadiness* r, const Object& o, const std::vector<PssCheckResult>& results,
                    int minor) {
  ++r->pods;
  std::vector<PssCheckResult> restricted = ViolationsForLevel(results, PssLevel::kRestricted, minor);
  PssLevel level = PssLevel::kRestricted;
  std::vector<PssCheckResult> baseline;
  if (!restricted.empty()) {
    baseline = ViolationsForLevel(results, PssLevel::kBaseline, minor);
    level = baseline.empty() ? PssLevel::kBaseline : PssLevel::kPrivileged;
  }
  r->meets = std::min(r->meets, level);
  if (r->next && level < *r->next) {
    const auto& violations = *r->next == PssLevel::kRestricted ? restricted : baseline;
    r->rejected_by_next.emplace_back(PodName(o), PssViolationMessage(*r->next, r->evaluated_at, violations));
  }
}

std::string EnforceText(const NamespacePolicy& p) {
  if (!p.labeled) return "privileged (no pod-security.kubernetes.io/enforce label)";
  return fmt::format("{}:{}{}", PssLevelName(p.level), p.version.ToString(),
                     p.invalid ? " (an invalid label value falls back to this)" : "");
}

void NamespaceFinding(ScanContext& ctx, const NamespaceReadiness& r) {
  const Object* ns_object = ctx.inventory.Find("Namespace", "", r.name);
  if (!ns_object || !ctx.emit.Enabled(CheckId::kPssNamespaceEnforce)) return;
  uint32_t index = static_cast<uint32_t>(ns_object - ctx.inventory.objects().data());
  bool passed = r.enforce.labeled && !r.enforce.invalid && r.enforce.level >= PssLevel::kBaseline;
  std::string what = r.templates ? "pod templates" : "pods";
  std::string message = fmt::format("Enforces {}", EnforceText(r.enforce));
  if (r.pods == 0) {
    message += fmt::format("; no {} to evaluate", what);
  } else {
    message += fmt::format("; all {} {} meet {} at {}", r.pods, what, PssLevelName(r.meets),
                           r.evaluated_at.ToString());
  }
  if (r.next) {
    if (r.rejected_by_next.empty()) {
      message += fmt::format("; pod-security.kubernetes.io/enforce={} would reject none",
                             PssLevelName(*r.next));
    } else {
      std::string names;
      for (size_t i = 0; i < r.rejected_by_next.size() && i < 5; ++i) {
        if (i) names += ", ";
        names += r.rejected_by_next[i].first;
      }
      if (r.rejected_by_next.size() > 5) names += ", ...";
      message += fmt::format("; enforce={} would reject {} of them: {}", PssLevelName(*r.next),
                             r.rejected_by_next.size(), names);
    }
  }
  ctx.emit.Emit(CheckId::kPssNamespaceEnforce, index, "", passed, std::move(message));
}

}  // namespace

void RunPodSecurityChecks(ScanContext& ctx) {
  const Inventory& inv = ctx.inventory;
  const PssEnvironment& env = ctx.options.pss_environment;
  std::vector<std::string> names = inv.NamespaceNames();
  std::unordered_map<std::string, NamespaceReadiness> readiness;
  for (const std::string& ns : names) readiness.emplace(ns, NewReadiness(ctx, ns));
  auto readiness_of = [&](const Object& o) -> NamespaceReadiness* {
    auto it = readiness.find(o.ref.ns);
    if (it == readiness.end()) return nullptr;
    bool pod = o.ref.kind == "Pod";
    return pod != it->second.templates ? &it->second : nullptr;
  };

  bool any_control = false;
  for (CheckId c : kControls) any_control |= ctx.emit.Enabled(c);
  // Each workload is evaluated once: for its findings and its namespace's
  // readiness.
  std::vector<bool> counted(inv.objects().size(), false);
  for (uint32_t w : inv.workloads()) {
    const Object& o = inv.at(w);
    NamespaceReadiness* r = readiness_of(o);
    if (!any_control && !r) continue;
    PssVersion version = PolicyVersion(ctx, o.ref.ns);
    std::vector<PssCheckResult> results = RunPssChecks(PodOf(inv, w), version, env);
    if (any_control) ControlFindings(ctx, w, version, results);
    if (r) {
      AddToReadiness(r, o, results, EffectiveMinor(version, env));
      counted[w] = true;
    }
  }
  // Pods reported through their controller still count for readiness.
  for (uint32_t p : inv.pods()) {
    const Object& o = inv.at(p);
    NamespaceReadiness* r = readiness_of(o);
    if (counted[p] || !r || o.context_only) continue;
    PodTemplate t = PodTemplateOf(o);
    if (t.spec == nullptr) continue;
    std::vector<PssCheckResult> results = RunPssChecks({t.metadata, t.spec, true}, r->evaluated_at, env);
    AddToReadiness(r, o, results, EffectiveMinor(r->evaluated_at, env));
  }
  for (const std::string& ns : names) {
    NamespaceReadiness& r = readiness.at(ns);
    if (r.pods == 0) r.meets = PssLevel::kRestricted;
    NamespaceFinding(ctx, r);
    ctx.emit.report().namespaces.push_back(std::move(r));
  }
}

}  // namespace srexpert::scan
