// Polaris' network checks: a NetworkPolicy per pod template, TLS on
// Ingresses.
#include "scan/context.h"
#include "scan/json_access.h"
#include "scan/manifests.h"

namespace srexpert::scan {

namespace {

// Polaris' NetworkPolicy match: podSelector.matchLabels agrees with exactly
// one of the template's labels (its oneOf), and the policy has egress and
// ingress rules (and, when it lists policyTypes, both types).
bool PolicyCovers(const JsonValue* np, const JsonValue* labels) {
  const JsonValue* spec = Get(np, "spec");
  if (spec == nullptr) return true;  // the schema only constrains a spec that exists
  if (!Obj(spec)) return false;
  const JsonValue* selector = Get(spec, "podSelector");
  const JsonValue* egress = Get(spec, "egress");
  const JsonValue* ingress = Get(spec, "ingress");
  if (!selector || !egress || !ingress) return false;
  if (!Arr(egress) || egress->Empty() || !Arr(ingress) || ingress->Empty()) return false;
  if (!Obj(selector)) return false;
  const JsonValue* match = Get(selector, "matchLabels");
  if (!Obj(match)) return false;
  int matching = 0;
  for (const auto& l : labels->GetObject()) {
    if (!l.value.IsString() || !YamlPlainScalarIsString(View(l.value))) continue;
    const JsonValue* v = Get(match, View(l.name));
    if (IsString(v) && Str(v) == View(l.value)) ++matching;
  }
  if (matching != 1) return false;
  const JsonValue* types = Get(spec, "policyTypes");
  if (types) {
    if (!Arr(types)) return false;
    if (!ArrayContainsIgnoreCase(types, "Egress") || !ArrayContainsIgnoreCase(types, "Ingress")) {
      return false;
    }
  }
  return true;
}

}  // namespace

void RunNetworkChecks(ScanContext& ctx) {
  Emitter& e = ctx.emit;
  if (e.Enabled(CheckId::kMissingNetworkPolicy)) {
    for (uint32_t w : ctx.inventory.workloads()) {
      const JsonValue* labels = Obj(Get(ctx.inventory.pod_template(w).metadata, "labels"));
      bool ok = false;
      if (Size(labels) >= 1) {
        for (uint32_t np : ctx.inventory.InNamespace("NetworkPolicy", ctx.inventory.at(w).ref.ns)) {
          if (PolicyCovers(ctx.inventory.at(np).value, labels)) {
            ok = true;
            break;
          }
        }
      }
      e.Emit(CheckId::kMissingNetworkPolicy, w, "", ok);
    }
  }
  for (uint32_t i : ctx.inventory.OfKind("Ingress")) {
    const JsonValue* tls = Path(ctx.inventory.at(i).value, {"spec", "tls"});
    e.Emit(CheckId::kIngressTls, i, "", Arr(tls) != nullptr);
  }
}

}  // namespace srexpert::scan
