// Polaris' availability checks across objects: replicas, PodDisruptionBudgets,
// HorizontalPodAutoscalers and the instance label. Cross-object lookups stay
// within the object's namespace.
#include <fmt/format.h>

#include <cmath>

#include "scan/context.h"
#include "scan/json_access.h"
#include "scan/manifests.h"

namespace srexpert::scan {

namespace {

const JsonValue* TemplateLabels(const ScanContext& ctx, uint32_t w) {
  return Obj(Get(ctx.inventory.pod_template(w).metadata, "labels"));
}

// Polaris' PDB lookup for missingPodDisruptionBudget: a PDB whose
// selector.matchLabels equals the template on at least one label. Label
// values that YAML reads as non-strings never match (Polaris pastes them
// unquoted into a schema).
bool PdbSelectsTemplate(const JsonValue* pdb, const JsonValue* labels) {
  const JsonValue* match = Obj(Path(pdb, {"spec", "selector", "matchLabels"}));
  if (!match || !labels) return false;
  for (const auto& l : labels->GetObject()) {
    if (!l.value.IsString() || !YamlPlainScalarIsString(View(l.value))) continue;
    const JsonValue* v = Get(match, View(l.name));
    if (IsString(v) && Str(v) == View(l.value)) return true;
  }
  return false;
}

// Polaris' pdbMinAvailableGreaterThanOrEqualToHPAMinReplicas lookup: a PDB
// with some matchLabels entry equal to the template's value for that key (a
// key the template lacks reads as "").
bool PdbAttached(const JsonValue* pdb, const JsonValue* labels) {
  const JsonValue* match = Obj(Path(pdb, {"spec", "selector", "matchLabels"}));
  if (!match) return false;
  for (const auto& m : match->GetObject()) {
    std::string_view have = Str(Get(labels, View(m.name)));
    if (m.value.IsString() && View(m.value) == have) return true;
  }
  return false;
}

void DeploymentChecks(ScanContext& ctx, uint32_t w) {
  Emitter& e = ctx.emit;
  const Object& o = ctx.inventory.at(w);
  const JsonValue* labels = TemplateLabels(ctx, w);
  auto replicas = Int(Path(o.value, {"spec", "replicas"}));
  bool integral = Path(o.value, {"spec", "replicas"}) && Path(o.value, {"spec", "replicas"})->IsInt64();
  e.Emit(CheckId::kDeploymentReplicas, w, "", integral && replicas && *replicas >= 2);

  const auto& pdbs = ctx.inventory.InNamespace("PodDisruptionBudget", o.ref.ns);
  if (e.Enabled(CheckId::kPodDisruptionBudget)) {
    bool ok = false;
    if (Size(labels) >= 1) {
      for (uint32_t p : pdbs) ok |= PdbSelectsTemplate(ctx.inventory.at(p).value, labels);
    }
    e.Emit(CheckId::kPodDisruptionBudget, w, "", ok);
  }

  if (e.Enabled(CheckId::kPdbMinAvailableVsHpa)) {
    const JsonValue* pdb = nullptr;
    for (uint32_t p : pdbs) {
      if (PdbAttached(ctx.inventory.at(p).value, labels)) {
        pdb = ctx.inventory.at(p).value;
        break;
      }
    }
    const JsonValue* hpa = nullptr;
    for (uint32_t h : ctx.inventory.InNamespace("HorizontalPodAutoscaler", o.ref.ns)) {
      const JsonValue* target = Path(ctx.inventory.at(h).value, {"spec", "scaleTargetRef"});
      if (Str(Get(target, "kind")) == "Deployment" && Str(Get(target, "name")) == o.ref.name) {
        hpa = ctx.inventory.at(h).value;
        break;
      }
    }
    bool ok = true;
    std::string message;
    const JsonValue* min_available = Path(pdb, {"spec", "minAvailable"});
    auto min_replicas = Int(Path(hpa, {"spec", "minReplicas"}));
    if (pdb && hpa && min_available && !min_available->IsNull() && min_replicas) {
      std::optional<int64_t> value;
      if (auto i = Int(min_available)) {
        value = *i;
      } else if (IsString(min_available)) {
        std::string_view s = Str(min_available);
        if (!s.empty() && s.back() == '%') {
          std::string digits(s.substr(0, s.size() - 1));
          char* end = nullptr;
          long pct = std::strtol(digits.c_str(), &end, 10);
          if (!digits.empty() && end && *end == 0) {
            value = static_cast<int64_t>(std::ceil(static_cast<double>(pct) * *min_replicas / 100.0));
          }
        }
      }
      if (value && *value >= *min_replicas) {
        ok = false;
        message = fmt::format(
            "The minAvailable value in the PodDisruptionBudget({}) is {}, which is greater or equal "
            "than the minReplicas value in the HorizontalPodAutoscaler({}) ({})",
            Str(Path(pdb, {"metadata", "name"})), *value, Str(Path(hpa, {"metadata", "name"})),
            *min_replicas);
      }
    }
    e.Emit(CheckId::kPdbMinAvailableVsHpa, w, "", ok, std::move(message));
  }
}

bool PdbAllowsDisruption(const JsonValue* pdb) {
  const JsonValue* spec = Get(pdb, "spec");
  if (spec == nullptr) return false;
  if (!spec->IsObject()) return true;
  const JsonValue* min = Get(spec, "minAvailable");
  if (IsString(min) && Str(min) == "100%") return false;
  const JsonValue* max = Get(spec, "maxUnavailable");
  if (auto i = Int(max); i && *i == 0 && max->IsNumber()) return false;
  if (IsString(max) && Str(max) == "0%") return false;
  return true;
}

// hpaMaxAvailability: maxReplicas (required, integer >= 1) above a set
// minReplicas (integer >= 1).
bool HpaMaxAbove(const JsonValue* hpa) {
  const JsonValue* spec = Get(hpa, "spec");
  if (!Obj(spec)) return spec == nullptr;
  const JsonValue* max = Get(spec, "maxReplicas");
  const JsonValue* min = Get(spec, "minReplicas");
  if (!max || !max->IsInt64() || max->GetInt64() < 1) return false;
  if (min && (!min->IsInt64() || min->GetInt64() < 1)) return false;
  if (min && min->GetInt64() != 0 && max->GetInt64() <= min->GetInt64()) return false;
  return true;
}

bool HpaMinAtLeastTwo(const JsonValue* hpa) {
  const JsonValue* min = Path(hpa, {"spec", "minReplicas"});
  return min == nullptr || (min->IsInt64() && min->GetInt64() >= 2);
}

}  // namespace

void RunAvailabilityChecks(ScanContext& ctx) {
  Emitter& e = ctx.emit;
  for (uint32_t w : ctx.inventory.workloads()) {
    const Object& o = ctx.inventory.at(w);
    if (o.ref.kind == "Deployment") DeploymentChecks(ctx, w);
    std::string_view instance = Label(Get(o.value, "metadata"), "app.kubernetes.io/instance");
    bool has_label = IsString(Get(MetadataField(o.value, "labels"), "app.kubernetes.io/instance"));
    e.Emit(CheckId::kMetadataInstanceLabel, w, "", has_label && instance == o.ref.name);
  }
  for (uint32_t p : ctx.inventory.OfKind("PodDisruptionBudget")) {
    e.Emit(CheckId::kPdbDisruptionsZero, p, "", PdbAllowsDisruption(ctx.inventory.at(p).value));
  }
  for (uint32_t h : ctx.inventory.OfKind("HorizontalPodAutoscaler")) {
    const JsonValue* hpa = ctx.inventory.at(h).value;
    e.Emit(CheckId::kHpaMaxAvailability, h, "", HpaMaxAbove(hpa));
    e.Emit(CheckId::kHpaMinAvailability, h, "", HpaMinAtLeastTwo(hpa));
  }
}

}  // namespace srexpert::scan
