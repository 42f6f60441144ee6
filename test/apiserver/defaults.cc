#include "test/apiserver/defaults.h"

#include <cctype>
#include <string_view>

#include "test/apiserver/resources.h"

namespace srexpert::testing {
namespace {

using u128 = unsigned __int128;

// Missing, null and the zero value a Go field would have: what the
// defaulting functions test with `== ""`, `== nil` or `== 0`.
bool Unset(const json::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return true;
  if (it->value.IsString()) return it->value.GetStringLength() == 0;
  if (it->value.IsNumber()) return it->value.GetDouble() == 0;
  return false;
}

void Default(json::Value& obj, const char* key, std::string_view value, json::Allocator& a) {
  if (Unset(obj, key)) json::SetString(obj, key, value, a);
}
void Default(json::Value& obj, const char* key, int64_t value, json::Allocator& a) {
  if (Unset(obj, key)) json::Set(obj, key, json::Value(value), a);
}
// For pointer fields (nil, not zero, means unset).
void DefaultIfAbsent(json::Value& obj, const char* key, json::Value value, json::Allocator& a) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) json::Set(obj, key, std::move(value), a);
}

json::Value* Child(json::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}
json::Value* ChildObject(json::Value& obj, const char* key) {
  json::Value* c = Child(obj, key);
  return c && c->IsObject() ? c : nullptr;
}

template <typename F>
void EachObject(json::Value& obj, const char* key, F&& f) {
  json::Value* list = Child(obj, key);
  if (!list || !list->IsArray()) return;
  for (auto& item : list->GetArray()) {
    if (item.IsObject()) f(item);
  }
}

// --- resource.Quantity ------------------------------------------------------

enum class Format { kDecimalSI, kBinarySI, kDecimalExponent };

u128 Pow(u128 base, int n) {
  u128 r = 1;
  while (n-- > 0) r *= base;
  return r;
}

struct Quantity {
  bool negative = false;
  u128 nanos = 0;  // |value| in units of 1e-9, rounded up like resource.Quantity
  Format format = Format::kDecimalSI;
};

std::optional<Quantity> ParseQuantity(const std::string& text) {
  Quantity q;
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) q.negative = text[i++] == '-';
  std::string digits;
  int frac = 0;
  bool dot = false, any = false;
  for (; i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'); ++i) {
    if (text[i] == '.') {
      if (dot) return std::nullopt;
      dot = true;
      continue;
    }
    any = true;
    digits += text[i];
    if (dot) ++frac;
  }
  if (!any) return std::nullopt;
  std::string suffix = text.substr(i);
  int dec = 0, bin = 0;
  static const std::pair<const char*, int> kDecimal[] = {{"n", -9}, {"u", -6}, {"m", -3}, {"", 0},
                                                         {"k", 3},  {"M", 6},  {"G", 9},  {"T", 12},
                                                         {"P", 15}, {"E", 18}};
  static const std::pair<const char*, int> kBinary[] = {{"Ki", 10}, {"Mi", 20}, {"Gi", 30},
                                                        {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  bool known = false;
  for (const auto& [s, e] : kDecimal) {
    if (suffix == s) {
      dec = e;
      known = true;
    }
  }
  for (const auto& [s, e] : kBinary) {
    if (suffix == s) {
      bin = e;
      q.format = Format::kBinarySI;
      known = true;
    }
  }
  if (!known) {
    if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return std::nullopt;
    size_t j = 1;
    if (suffix[j] == '+' || suffix[j] == '-') ++j;
    if (j >= suffix.size()) return std::nullopt;
    for (size_t k = j; k < suffix.size(); ++k) {
      if (!std::isdigit(static_cast<unsigned char>(suffix[k]))) return std::nullopt;
    }
    dec = std::stoi(suffix.substr(1));
    q.format = Format::kDecimalExponent;
  }
  // Beyond what fits 128 bits is left as written (no such values in tests).
  if (digits.size() > 20 || dec > 18 || dec < -30) return std::nullopt;
  u128 mantissa = 0;
  for (char c : digits) mantissa = mantissa * 10 + static_cast<unsigned>(c - '0');
  mantissa <<= bin;
  int scale = dec + 9 - frac;  // value = mantissa * 10^scale nanos
  if (scale >= 0) {
    u128 factor = Pow(10, scale);
    if (mantissa != 0 && factor > ~u128{0} / mantissa) return std::nullopt;
    q.nanos = mantissa * factor;
  } else if (-scale > 38) {
    q.nanos = mantissa != 0 ? 1 : 0;
  } else {
    u128 div = Pow(10, -scale);
    q.nanos = mantissa / div + (mantissa % div != 0 ? 1 : 0);
  }
  return q;
}

std::string ToString(u128 v) {
  if (v == 0) return "0";
  std::string s;
  while (v > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return s;
}

// --- pod templates ----------------------------------------------------------

// The tag a reference names (parsers.ParseImageName): "latest" when it
// names neither a tag nor a digest; "" for a digest alone.
std::string ImageTag(const std::string& image) {
  std::string name = image;
  bool digest = false;
  if (auto at = name.find('@'); at != std::string::npos) {
    name = name.substr(0, at);
    digest = true;
  }
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return name.substr(colon + 1);
  }
  return digest ? "" : "latest";
}

void CanonicalizeQuantities(json::Value* map, json::Allocator& a) {
  if (!map || !map->IsObject()) return;
  for (auto& m : map->GetObject()) {
    if (!m.value.IsString()) continue;
    if (auto c = CanonicalQuantity(m.value.GetString())) m.value.SetString(c->c_str(), static_cast<rapidjson::SizeType>(c->size()), a);
  }
}

void DefaultFieldRef(json::Value& holder, json::Allocator& a) {
  if (json::Value* ref = ChildObject(holder, "fieldRef")) Default(*ref, "apiVersion", "v1", a);
}

void DefaultHttpGet(json::Value& handler, json::Allocator& a) {
  if (json::Value* http = ChildObject(handler, "httpGet")) {
    Default(*http, "path", "/", a);
    Default(*http, "scheme", "HTTP", a);
  }
}

void DefaultProbe(json::Value& probe, json::Allocator& a) {
  Default(probe, "timeoutSeconds", 1, a);
  Default(probe, "periodSeconds", 10, a);
  Default(probe, "successThreshold", 1, a);
  Default(probe, "failureThreshold", 3, a);
  DefaultHttpGet(probe, a);
  if (json::Value* grpc = ChildObject(probe, "grpc")) {
    DefaultIfAbsent(*grpc, "service", json::String("", a), a);
  }
}

void DefaultContainer(json::Value& c, bool host_network, json::Allocator& a) {
  if (Unset(c, "imagePullPolicy")) {
    json::SetString(c, "imagePullPolicy",
                    ImageTag(json::GetString(c, {"image"})) == "latest" ? "Always" : "IfNotPresent", a);
  }
  Default(c, "terminationMessagePath", "/dev/termination-log", a);
  Default(c, "terminationMessagePolicy", "File", a);
  // ResourceRequirements is a struct: Go always serializes it.
  DefaultIfAbsent(c, "resources", json::Value(rapidjson::kObjectType), a);
  if (json::Value* r = ChildObject(c, "resources")) {
    CanonicalizeQuantities(Child(*r, "requests"), a);
    CanonicalizeQuantities(Child(*r, "limits"), a);
  }
  EachObject(c, "ports", [&](json::Value& p) {
    Default(p, "protocol", "TCP", a);
    if (host_network && Unset(p, "hostPort") && p.HasMember("containerPort")) {
      json::Set(p, "hostPort", json::Value(p["containerPort"], a), a);
    }
  });
  EachObject(c, "env", [&](json::Value& e) {
    if (json::Value* from = ChildObject(e, "valueFrom")) DefaultFieldRef(*from, a);
  });
  for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    if (json::Value* p = ChildObject(c, probe)) DefaultProbe(*p, a);
  }
  if (json::Value* lc = ChildObject(c, "lifecycle")) {
    for (const char* hook : {"postStart", "preStop"}) {
      if (json::Value* h = ChildObject(*lc, hook)) DefaultHttpGet(*h, a);
    }
  }
}

void DefaultVolume(json::Value& v, json::Allocator& a) {
  // A volume naming no source is an emptyDir (SetDefaults_Volume).
  bool has_source = false;
  for (const auto& m : v.GetObject()) has_source |= std::string_view(m.name.GetString()) != "name";
  if (!has_source) json::Set(v, "emptyDir", json::Value(rapidjson::kObjectType), a);
  for (const char* key : {"secret", "configMap", "downwardAPI", "projected"}) {
    if (json::Value* src = ChildObject(v, key)) Default(*src, "defaultMode", 420, a);
  }
  if (json::Value* d = ChildObject(v, "downwardAPI")) EachObject(*d, "items", [&](json::Value& i) { DefaultFieldRef(i, a); });
  if (json::Value* p = ChildObject(v, "projected")) {
    EachObject(*p, "sources", [&](json::Value& s) {
      if (json::Value* t = ChildObject(s, "serviceAccountToken")) Default(*t, "expirationSeconds", 3600, a);
      if (json::Value* d = ChildObject(s, "downwardAPI")) EachObject(*d, "items", [&](json::Value& i) { DefaultFieldRef(i, a); });
    });
  }
  if (json::Value* h = ChildObject(v, "hostPath")) DefaultIfAbsent(*h, "type", json::String("", a), a);
  if (json::Value* e = ChildObject(v, "emptyDir"); e && Child(*e, "sizeLimit") && (*e)["sizeLimit"].IsString()) {
    if (auto c = CanonicalQuantity((*e)["sizeLimit"].GetString())) json::SetString(*e, "sizeLimit", *c, a);
  }
}

void DefaultPodSpec(json::Value& spec, json::Allocator& a) {
  Default(spec, "dnsPolicy", "ClusterFirst", a);
  Default(spec, "restartPolicy", "Always", a);
  DefaultIfAbsent(spec, "terminationGracePeriodSeconds", json::Value(int64_t{30}), a);
  DefaultIfAbsent(spec, "securityContext", json::Value(rapidjson::kObjectType), a);
  Default(spec, "schedulerName", "default-scheduler", a);
  bool host_network = json::GetBool(spec, {"hostNetwork"});
  for (const char* key : {"containers", "initContainers", "ephemeralContainers"}) {
    EachObject(spec, key, [&](json::Value& c) { DefaultContainer(c, host_network, a); });
  }
  EachObject(spec, "volumes", [&](json::Value& v) { DefaultVolume(v, a); });
}

void DefaultPodTemplate(json::Value& workload_spec, json::Allocator& a) {
  json::Value& tmpl = json::EnsureObject(workload_spec, {"template"}, a);
  // ObjectMeta.CreationTimestamp is a struct: Go serializes its zero value
  // as null inside templates.
  json::Value& meta = json::EnsureObject(tmpl, {"metadata"}, a);
  if (!meta.HasMember("creationTimestamp")) json::Set(meta, "creationTimestamp", json::Value(rapidjson::kNullType), a);
  DefaultPodSpec(json::EnsureObject(tmpl, {"spec"}, a), a);
}

void DefaultRollingUpdate(json::Value& strategy, const char* type_key, json::Value max_unavailable,
                          json::Value max_surge, json::Allocator& a) {
  Default(strategy, type_key, "RollingUpdate", a);
  if (json::GetString(strategy, {type_key}) != "RollingUpdate") return;
  json::Value& ru = json::EnsureObject(strategy, {"rollingUpdate"}, a);
  DefaultIfAbsent(ru, "maxUnavailable", std::move(max_unavailable), a);
  DefaultIfAbsent(ru, "maxSurge", std::move(max_surge), a);
}

}  // namespace

std::optional<std::string> CanonicalQuantity(const std::string& text) {
  auto q = ParseQuantity(text);
  if (!q) return std::nullopt;
  if (q->nanos == 0) return "0";
  std::string sign = q->negative ? "-" : "";
  const u128 kNano = Pow(10, 9);
  // BinarySI prints base-1024 only for integers of at least 1024 (resource.
  // Quantity.CanonicalizeBytes); anything else falls back to DecimalSI.
  if (q->format == Format::kBinarySI && q->nanos >= 1024 * kNano && q->nanos % kNano == 0) {
    u128 n = q->nanos / kNano;
    static const char* kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int e = 0;
    while (e < 6 && n % 1024 == 0) {
      n /= 1024;
      ++e;
    }
    return sign + ToString(n) + kSuffix[e];
  }
  // Decimal: strip factors of ten, then lower the exponent to a multiple of 3.
  u128 n = q->nanos;
  int exponent = -9;
  while (n % 10 == 0) {
    n /= 10;
    ++exponent;
  }
  while (((exponent % 3) + 3) % 3 != 0) {
    n *= 10;
    --exponent;
  }
  while (exponent > 18) {
    n *= 1000;
    exponent -= 3;
  }
  if (q->format == Format::kDecimalExponent) {
    return sign + ToString(n) + (exponent == 0 ? "" : "e" + std::to_string(exponent));
  }
  static const char* kSi[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
  return sign + ToString(n) + kSi[(exponent + 9) / 3];
}

std::string PodQosClass(const json::Value& pod) {
  bool any = false;
  bool guaranteed = true;
  for (const char* list : {"initContainers", "containers"}) {
    const auto* containers = json::Find(pod, {"spec", list});
    if (containers == nullptr || !containers->IsArray()) continue;
    for (const auto& c : containers->GetArray()) {
      for (const char* resource : {"cpu", "memory"}) {
        auto quantity = [&](const char* kind) -> std::string {
          const auto* q = json::Find(c, {"resources", kind, resource});
          if (q == nullptr || !q->IsString()) return "";
          return CanonicalQuantity(q->GetString()).value_or(q->GetString());
        };
        std::string limit = quantity("limits");
        std::string request = quantity("requests");
        if (request.empty()) request = limit;  // SetDefaults_Pod
        if ((!request.empty() && request != "0") || (!limit.empty() && limit != "0")) any = true;
        if (limit.empty() || request != limit) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

void ApplyDefaults(const ResourceType& type, json::Document& obj) {
  if (!obj.IsObject()) return;
  auto& a = obj.GetAllocator();
  const std::string& r = type.resource;
  auto drop_empty = [](json::Value* parent, std::initializer_list<const char*> keys) {
    if (!parent || !parent->IsObject()) return;
    for (const char* k : keys) {
      json::Value* v = Child(*parent, k);
      if (v && ((v->IsObject() && v->ObjectEmpty()) || (v->IsArray() && v->Empty()))) json::Remove(*parent, k);
    }
  };
  drop_empty(ChildObject(obj, "metadata"), {"labels", "annotations", "finalizers", "ownerReferences", "managedFields"});
  if (type.custom) return;
  if (type.group.empty() && (r == "configmaps" || r == "secrets")) drop_empty(&obj, {"data", "binaryData"});
  // Status fields without omitempty: Go writes their zero values.
  if (json::Value* status = ChildObject(obj, "status")) {
    auto zero = [&](std::initializer_list<const char*> keys) {
      for (const char* k : keys) DefaultIfAbsent(*status, k, json::Value(0), a);
    };
    if (type.group == "networking.k8s.io" && r == "ingresses") {
      DefaultIfAbsent(*status, "loadBalancer", json::Value(rapidjson::kObjectType), a);
    } else if (type.group == "apps" && r == "statefulsets") {
      zero({"replicas", "availableReplicas"});
    } else if (type.group == "apps" && r == "daemonsets") {
      zero({"currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"});
    } else if (type.group == "apps" && r == "replicasets") {
      zero({"replicas"});
    } else if (type.group == "policy" && r == "poddisruptionbudgets") {
      zero({"disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"});
    }
  }
  // PolicyRule lists without omitempty: a Role or ClusterRole without rules
  // (an aggregated one) reads back "rules": null.
  if (type.group == "rbac.authorization.k8s.io" && (r == "roles" || r == "clusterroles") &&
      !obj.HasMember("rules")) {
    obj.AddMember("rules", json::Value(rapidjson::kNullType), a);
  }
  if (type.group != "apps") return;
  json::Value& spec = json::EnsureObject(obj, {"spec"}, a);
  if (r == "deployments") {
    DefaultIfAbsent(spec, "replicas", json::Value(1), a);
    json::Value& strategy = json::EnsureObject(spec, {"strategy"}, a);
    DefaultRollingUpdate(strategy, "type", json::String("25%", a), json::String("25%", a), a);
    DefaultIfAbsent(spec, "revisionHistoryLimit", json::Value(10), a);
    DefaultIfAbsent(spec, "progressDeadlineSeconds", json::Value(600), a);
  } else if (r == "statefulsets") {
    DefaultIfAbsent(spec, "replicas", json::Value(1), a);
    Default(spec, "podManagementPolicy", "OrderedReady", a);
    json::Value& strategy = json::EnsureObject(spec, {"updateStrategy"}, a);
    Default(strategy, "type", "RollingUpdate", a);
    if (json::GetString(strategy, {"type"}) == "RollingUpdate") {
      DefaultIfAbsent(json::EnsureObject(strategy, {"rollingUpdate"}, a), "partition", json::Value(0), a);
    }
    DefaultIfAbsent(spec, "revisionHistoryLimit", json::Value(10), a);
    // serviceName has no omitempty in v1.26's apps/v1.
    DefaultIfAbsent(spec, "serviceName", json::String("", a), a);
  } else if (r == "daemonsets") {
    json::Value& strategy = json::EnsureObject(spec, {"updateStrategy"}, a);
    DefaultRollingUpdate(strategy, "type", json::Value(1), json::Value(0), a);
    DefaultIfAbsent(spec, "revisionHistoryLimit", json::Value(10), a);
  } else if (r == "replicasets") {
    DefaultIfAbsent(spec, "replicas", json::Value(1), a);
  } else {
    return;
  }
  DefaultPodTemplate(spec, a);
}

}  // namespace srexpert::testing
