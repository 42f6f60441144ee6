// Credentials where they do not belong: literal environment variable values
// named like secrets, and ConfigMap keys named like secrets or holding
// private keys (Polaris' sensitiveContainerEnvVar and
// sensitiveConfigmapContent, with their patterns).
#include "scan/sensitive_data.h"

#include "scan/context.h"
#include "scan/json_access.h"

namespace srexpert::scan {

bool SensitiveName(std::string_view name) {
  for (std::string_view exact :
       {"AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "OCI_CLI_KEY_CONTENT"}) {
    if (EqualsIgnoreCase(name, exact)) return true;
  }
  if (name.size() >= 10 && EqualsIgnoreCase(name.substr(0, 6), "AZURE_") &&
      EqualsIgnoreCase(name.substr(name.size() - 3), "KEY")) {
    return true;
  }
  for (std::string_view part : {"password", "token", "bearer", "secret"}) {
    if (ContainsIgnoreCase(name, part)) return true;
  }
  return false;
}

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

}  // namespace

bool HoldsPrivateKey(std::string_view v) {
  for (size_t i = 0; i + 6 <= v.size(); ++i) {
    if (!EqualsIgnoreCase(v.substr(i, 6), "-BEGIN")) continue;
    size_t j = i + 6;
    if (j >= v.size() || !IsSpace(v[j])) continue;
    while (j < v.size() && IsSpace(v[j])) ++j;
    size_t eol = v.find('\n', j);
    std::string_view rest = v.substr(j, eol == std::string_view::npos ? std::string_view::npos : eol - j);
    if (ContainsIgnoreCase(rest, "PRIVATE KEY-")) return true;
  }
  return false;
}

namespace {

// An env entry fails when it has a literal (non-empty) value and either its
// name is sensitive or the value holds a private key.
// The leader's projection carries no value, only its verdicts: "literal"
// (a non-empty value) and "privateKey" (it holds one).
bool EnvClean(const JsonValue& c, std::string* bad) {
  const JsonValue* env = Arr(Get(c, "env"));
  if (!env) return true;
  for (const auto& item : env->GetArray()) {
    std::string_view value = Str(Get(item, "value"));
    const JsonValue* literal = Get(item, "literal");
    const bool projected = value.empty() && literal && literal->IsTrue();
    if (value.empty() && !projected) continue;
    if (Obj(Get(item, "valueFrom")) && IsString(Get(item, "name"))) continue;
    std::string_view name = Str(Get(item, "name"));
    const JsonValue* key = Get(item, "privateKey");
    const bool private_key = projected ? key && key->IsTrue() : HoldsPrivateKey(value);
    if (SensitiveName(name) || private_key) {
      *bad = std::string(name);
      return false;
    }
  }
  return true;
}

}  // namespace

void RunSensitiveDataChecks(ScanContext& ctx) {
  Emitter& e = ctx.emit;
  if (e.Enabled(CheckId::kSensitiveEnvVar)) {
    for (uint32_t w : ctx.inventory.workloads()) {
      const JsonValue* spec = ctx.inventory.pod_template(w).spec;
      for (std::string_view list : {"initContainers", "containers"}) {
        const JsonValue* containers = Arr(Get(spec, list));
        if (!containers) continue;
        for (const auto& c : containers->GetArray()) {
          if (!c.IsObject()) continue;
          std::string bad;
          bool ok = EnvClean(c, &bad);
          e.Emit(CheckId::kSensitiveEnvVar, w, Str(Get(c, "name")), ok,
                 ok ? "" : "Environment variable " + bad + " holds a literal value that looks sensitive");
        }
      }
    }
  }
  if (e.Enabled(CheckId::kSensitiveConfigMapContent)) {
    for (uint32_t i : ctx.inventory.OfKind("ConfigMap")) {
      const JsonValue* cm = ctx.inventory.at(i).value;
      std::string bad;
      const JsonValue* data = Obj(Get(cm, "data"));
      if (data) {
        for (const auto& m : data->GetObject()) {
          if (SensitiveName(View(m.name)) || (m.value.IsString() && HoldsPrivateKey(View(m.value)))) {
            bad = std::string(View(m.name));
            break;
          }
        }
      } else if (const JsonValue* keys = Arr(Get(cm, "dataKeys"))) {
        // The leader's projection keeps key names, and the names of the
        // keys whose value holds a private key, never a value.
        const JsonValue* with_key = Arr(Get(cm, "privateKeyKeys"));
        for (const auto& k : keys->GetArray()) {
          if (!k.IsString()) continue;
          bool holds = false;
          if (with_key) {
            for (const auto& p : with_key->GetArray()) holds |= p.IsString() && View(p) == View(k);
          }
          if (SensitiveName(View(k)) || holds) {
            bad = std::string(View(k));
            break;
          }
        }
      }
      e.Emit(CheckId::kSensitiveConfigMapContent, i, "", bad.empty(),
             bad.empty() ? "" : "Key " + bad + " looks sensitive or holds a private key");
    }
  }
}

}  // namespace srexpert::scan
