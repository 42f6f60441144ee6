// Runs the configuration's custom checks over their targets. As in Polaris,
// a custom check runs only when the configuration's `checks` lists it with a
// severity other than ignore.
#include <deque>

#include "scan/context.h"
#include "scan/custom_checks.h"
#include "scan/json_access.h"

namespace srexpert::scan {

namespace {

// The pod spec holding only `container` (Polaris' schemaTarget: PodSpec).
rapidjson::Document PodSpecWith(const JsonValue* spec, const JsonValue& container) {
  rapidjson::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  if (Obj(spec)) {
    for (const auto& m : spec->GetObject()) {
      std::string_view key = View(m.name);
      if (key == "containers" || key == "initContainers") continue;
      d.AddMember(rapidjson::Value(m.name, a), rapidjson::Value(m.value, a), a);
    }
  }
  rapidjson::Value list(rapidjson::kArrayType);
  list.PushBack(rapidjson::Value(container, a), a);
  d.AddMember("containers", list, a);
  d.AddMember("initContainers", rapidjson::Value(rapidjson::kArrayType), a);
  return d;
}

}  // namespace

void RunCustomChecks(ScanContext& ctx) {
  const ScanConfig* config = ctx.options.config.get();
  if (!config || config->custom_checks.empty() || !config->checks) return;
  auto infos = std::make_shared<std::deque<CheckInfo>>();
  struct Active {
    const CustomCheck* check;
    const CheckInfo* info;
  };
  std::vector<Active> active;
  for (const auto& c : config->custom_checks) {
    auto it = config->checks->find(c->name());
    if (it == config->checks->end() || it->second == Severity::kIgnore) continue;
    infos->push_back(c->Info(it->second));
    if (!ctx.emit.Enabled(infos->back())) continue;
    active.push_back({c.get(), &infos->back()});
  }
  ctx.emit.report().custom_checks = infos;
  const Inventory& inv = ctx.inventory;
  for (const Active& a : active) {
    const CustomCheck& c = *a.check;
    Severity severity = a.info->severity;
    switch (c.target()) {
      case CustomTarget::kKind:
        for (uint32_t i : inv.OfKind(c.kind())) {
          ctx.emit.Emit(a.info, severity, i, "", c.Validate(*inv.at(i).value));
        }
        break;
      case CustomTarget::kController:
      case CustomTarget::kPodSpec:
      case CustomTarget::kPodTemplate:
      case CustomTarget::kContainer:
        for (uint32_t w : inv.workloads()) {
          const Object& o = inv.at(w);
          if (!c.AppliesToKind(o.ref.kind)) continue;
          const PodTemplate& t = inv.pod_template(w);
          if (c.target() == CustomTarget::kController) {
            ctx.emit.Emit(a.info, severity, w, "", c.Validate(*o.value));
          } else if (c.target() == CustomTarget::kPodSpec) {
            ctx.emit.Emit(a.info, severity, w, "", c.Validate(*t.spec));
          } else if (c.target() == CustomTarget::kPodTemplate) {
            const JsonValue* tmpl = o.ref.kind == "Pod" ? o.value
                                    : o.ref.kind == "CronJob"
                                        ? Path(o.value, {"spec", "jobTemplate", "spec", "template"})
                                        : (o.ref.kind == "PodTemplate" ? Get(o.value, "template")
                                                                       : Path(o.value, {"spec", "template"}));
            if (tmpl) ctx.emit.Emit(a.info, severity, w, "", c.Validate(*tmpl));
          } else {
            for (std::string_view list : {"initContainers", "containers"}) {
              bool init = list == "initContainers";
              if (!c.AppliesToContainer(init)) continue;
              const JsonValue* containers = Arr(Get(t.spec, list));
              if (!containers) continue;
              for (const auto& container : containers->GetArray()) {
                if (!container.IsObject()) continue;
                bool ok = c.schema_target_pod_spec() ? c.Validate(PodSpecWith(t.spec, container))
                                                     : c.Validate(container);
                ctx.emit.Emit(a.info, severity, w, Str(Get(container, "name")), ok);
              }
            }
          }
        }
        break;
    }
  }
}

}  // namespace srexpert::scan
