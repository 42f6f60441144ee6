// RBAC: Polaris' role and binding checks (exec/attach, cluster-admin and
// wildcard roles), and an analysis of what each binding grants its subjects:
// Secrets cluster-wide, exec into pods, escalate/bind/impersonate, default
// service accounts, anonymous users, system:masters. Aggregated ClusterRoles
// are resolved through their aggregationRule for the analysis.
//
// Deliberate difference from Polaris: a binding's ClusterRole is looked up
// cluster-wide (Polaris filters additional objects by the binding's
// namespace, so a RoleBinding can never find its ClusterRole).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <functional>
#include <set>
#include <unordered_map>

#include "scan/context.h"
#include "scan/json_access.h"

namespace srexpert::scan {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool AnyOf(const JsonValue* arr, std::initializer_list<std::string_view> values) {
  if (!Arr(arr)) return false;
  for (std::string_view v : values) {
    if (Contains(arr, v)) return true;
  }
  return false;
}

// ---- Polaris' rule predicates -------------------------------------------------------

// A rule allowing pods/exec or pods/attach (get or create, as Polaris counts
// a websocket GET).
bool PolarisExecRule(const JsonValue& rule) {
  return AnyOf(Get(rule, "apiGroups"), {"", "*"}) &&
         AnyOf(Get(rule, "resources"), {"*", "pods/exec", "pods/attach"}) &&
         AnyOf(Get(rule, "verbs"), {"*", "get", "create"});
}

// A rule with cluster-admin power: * groups, * resources, and verbs either
// containing * or listing the seven standard verbs — exactly one of the two,
// with no repeated verb.
bool PolarisWildcardRule(const JsonValue& rule) {
  if (!AnyOf(Get(rule, "apiGroups"), {"*"}) || !AnyOf(Get(rule, "resources"), {"*"})) return false;
  const JsonValue* verbs = Arr(Get(rule, "verbs"));
  if (!verbs) return false;
  std::set<std::string> seen;
  for (const auto& v : verbs->GetArray()) {
    std::string s = v.IsString() ? std::string(View(v)) : "\x01";
    if (!seen.insert(s).second) return false;  // uniqueItems
  }
  bool star = Contains(verbs, "*");
  bool standard = verbs->Size() >= 7;
  for (const auto& v : verbs->GetArray()) {
    static constexpr std::array<std::string_view, 7> kVerbs = {"get",    "list",  "watch", "create",
                                                               "update", "patch", "delete"};
    if (!v.IsString() || std::find(kVerbs.begin(), kVerbs.end(), View(v)) == kVerbs.end()) {
      standard = false;
    }
  }
  return star != standard;
}

bool AnyRule(const JsonValue* role, bool (*pred)(const JsonValue&)) {
  const JsonValue* rules = Arr(Get(role, "rules"));
  if (!rules) return false;
  for (const auto& r : rules->GetArray()) {
    if (r.IsObject() && pred(r)) return true;
  }
  return false;
}

bool DefaultClusterRoleName(std::string_view name) {
  return name == "admin" || name == "cluster-admin" || name == "edit" || StartsWith(name, "system:") ||
         name == "gce:podsecuritypolicy:calico-sa";
}
bool SystemName(std::string_view name) {
  return StartsWith(name, "system:") || name == "gce:podsecuritypolicy:calico-sa";
}

// ---- role resolution -----------------------------------------------------------------

bool MatchesSelector(const JsonValue* labels, const JsonValue& selector) {
  if (!selector.IsObject()) return false;
  const JsonValue* match = Obj(Get(selector, "matchLabels"));
  if (match) {
    for (const auto& m : match->GetObject()) {
      const JsonValue* have = Get(labels, View(m.name));
      if (!IsString(have) || !m.value.IsString() || Str(have) != View(m.value)) return false;
    }
  }
  const JsonValue* exprs = Arr(Get(selector, "matchExpressions"));
  if (exprs) {
    for (const auto& e : exprs->GetArray()) {
      std::string_view key = Str(Get(e, "key"));
      std::string_view op = Str(Get(e, "operator"));
      const JsonValue* have = Get(labels, key);
      const JsonValue* values = Get(e, "values");
      if (op == "In") {
        if (!IsString(have) || !Contains(values, Str(have))) return false;
      } else if (op == "NotIn") {
        if (IsString(have) && Contains(values, Str(have))) return false;
      } else if (op == "Exists") {
        if (!have) return false;
      } else if (op == "DoesNotExist") {
        if (have) return false;
      } else {
        return false;
      }
    }
  }
  return match != nullptr || exprs != nullptr;
}

class Roles {
 public:
  explicit Roles(const Inventory& inv) : inv_(inv) {}

  // The rules a binding's roleRef grants (aggregation resolved), or nullptr
  // when the role is not among the inputs.
  const std::vector<const JsonValue*>* RulesFor(const Object& binding) {
    const JsonValue* ref = Get(binding.value, "roleRef");
    std::string_view kind = Str(Get(ref, "kind"));
    std::string_view name = Str(Get(ref, "name"));
    if (kind == "ClusterRole") return ClusterRoleRules(name);
    if (kind == "Role" && binding.ref.kind == "RoleBinding") {
      std::string key = binding.ref.ns + "/" + std::string(name);
      auto it = role_rules_.find(key);
      if (it != role_rules_.end()) return &it->second;
      const Object* role = inv_.Find("Role", binding.ref.ns, name);
      if (!role) return nullptr;
      std::vector<const JsonValue*> rules;
      Append(role->value, &rules);
      return &role_rules_.emplace(key, std::move(rules)).first->second;
    }
    return nullptr;
  }

  const std::vector<const JsonValue*>* ClusterRoleRules(std::string_view name) {
    auto it = cluster_rules_.find(std::string(name));
    if (it != cluster_rules_.end()) return &it->second;
    const Object* role = inv_.Find("ClusterRole", "", name);
    if (!role) return nullptr;
    std::vector<const JsonValue*> rules;
    std::set<std::string> visited;
    Aggregate(*role, &rules, &visited);
    return &cluster_rules_.emplace(std::string(name), std::move(rules)).first->second;
  }

 private:
  static void Append(const JsonValue* role, std::vector<const JsonValue*>* out) {
    const JsonValue* rules = Arr(Get(role, "rules"));
    if (!rules) return;
    for (const auto& r : rules->GetArray()) {
      if (r.IsObject()) out->push_back(&r);
    }
  }

  void Aggregate(const Object& role, std::vector<const JsonValue*>* out, std::set<std::string>* visited) {
    if (!visited->insert(role.ref.name).second) return;
    Append(role.value, out);
    const JsonValue* selectors = Arr(Path(role.value, {"aggregationRule", "clusterRoleSelectors"}));
    if (!selectors) return;
    for (uint32_t i : inv_.OfKind("ClusterRole")) {
      const Object& other = inv_.at(i);
      if (other.ref.name == role.ref.name) continue;
      const JsonValue* labels = MetadataField(other.value, "labels");
      for (const auto& sel : selectors->GetArray()) {
        if (MatchesSelector(labels, sel)) {
          Aggregate(other, out, visited);
          break;
        }
      }
    }
  }

  const Inventory& inv_;
  std::unordered_map<std::string, std::vector<const JsonValue*>> cluster_rules_, role_rules_;
};

// Whether a rule grants one of `verbs` on one of `resources` in one of
// `groups` ("*" in the rule matches anything; "pods/*" covers subresources).
bool Grants(const JsonValue& rule, std::initializer_list<std::string_view> verbs,
            std::initializer_list<std::string_view> groups,
            std::initializer_list<std::string_view> resources, bool require_all_names = false) {
  const JsonValue* rv = Arr(Get(rule, "verbs"));
  const JsonValue* rg = Arr(Get(rule, "apiGroups"));
  const JsonValue* rr = Arr(Get(rule, "resources"));
  if (!rv || !rg || !rr) return false;
  if (require_all_names && Size(Arr(Get(rule, "resourceNames"))) > 0) return false;
  bool verb = Contains(rv, "*");
  for (auto v : verbs) verb |= Contains(rv, v);
  bool group = Contains(rg, "*");
  for (auto g : groups) group |= Contains(rg, g);
  bool resource = Contains(rr, "*");
  for (auto r : resources) {
    resource |= Contains(rr, r);
    size_t slash = r.find('/');
    if (slash != std::string_view::npos) {
      resource |= Contains(rr, std::string(r.substr(0, slash)) + "/*");
    }
  }
  return verb && group && resource;
}

bool AnyGrant(const std::vector<const JsonValue*>& rules, const std::function<bool(const JsonValue&)>& p) {
  for (const JsonValue* r : rules) {
    if (p(*r)) return true;
  }
  return false;
}

std::string Subjects(const JsonValue* binding) {
  std::string out;
  const JsonValue* subjects = Arr(Get(binding, "subjects"));
  if (!subjects) return "no subjects";
  for (const auto& s : subjects->GetArray()) {
    if (!out.empty()) out += ", ";
    std::string_view kind = Str(Get(s, "kind"));
    std::string_view ns = Str(Get(s, "namespace"));
    out += fmt::format("{} {}{}{}", kind, ns, ns.empty() ? "" : "/", Str(Get(s, "name")));
  }
  return out.empty() ? "no subjects" : out;
}

bool HasSubject(const JsonValue* binding, std::string_view kind, std::string_view name) {
  const JsonValue* subjects = Arr(Get(binding, "subjects"));
  if (!subjects) return false;
  for (const auto& s : subjects->GetArray()) {
    if (Str(Get(s, "kind")) == kind && Str(Get(s, "name")) == name) return true;
  }
  return false;
}

std::string RoleText(const JsonValue* binding) {
  const JsonValue* ref = Get(binding, "roleRef");
  return fmt::format("{} {}", Str(Get(ref, "kind")), Str(Get(ref, "name")));
}

// ---- Polaris' checks -------------------------------------------------------------------

void PolarisRoleChecks(ScanContext& ctx) {
  Emitter& e = ctx.emit;
  for (uint32_t i : ctx.inventory.OfKind("ClusterRole")) {
    const Object& o = ctx.inventory.at(i);
    bool has_rules = Get(o.value, "rules") != nullptr;
    e.Emit(CheckId::kClusterRolePodExecAttach, i, "",
           has_rules && (DefaultClusterRoleName(o.ref.name) || !AnyRule(o.value, PolarisExecRule)));
  }
  for (uint32_t i : ctx.inventory.OfKind("Role")) {
    const Object& o = ctx.inventory.at(i);
    bool has_rules = Get(o.value, "rules") != nullptr;
    e.Emit(CheckId::kRolePodExecAttach, i, "",
           has_rules && (SystemName(o.ref.name) || !AnyRule(o.value, PolarisExecRule)));
  }
}

// Outcome of looking at the role a Polaris binding check names: passes when
// the role exists and no rule matches `bad`.
bool RoleClean(const Object* role, bool (*bad)(const JsonValue&), std::string* message,
               std::string_view kind, std::string_view name) {
  if (!role) {
    *message = fmt::format("{} {} does not exist among the scanned objects", kind, name);
    return false;
  }
  if (!Get(role->value, "rules")) return false;
  return !AnyRule(role->value, bad);
}

void PolarisBindingChecks(ScanContext& ctx) {
  Emitter& e = ctx.emit;
  const Inventory& inv = ctx.inventory;
  for (uint32_t i : inv.OfKind("ClusterRoleBinding")) {
    const Object& b = inv.at(i);
    const JsonValue* ref = Get(b.value, "roleRef");
    std::string_view ref_name = Str(Get(ref, "name"));
    bool exempt = b.ref.name == "cluster-admin" || SystemName(b.ref.name);
    bool ref_ok = Str(Get(ref, "apiGroup")) == "rbac.authorization.k8s.io" &&
                  Str(Get(ref, "kind")) == "ClusterRole" && !ref_name.empty();
    const Object* role = inv.Find("ClusterRole", "", ref_name);
    {
      std::string message;
      bool ok = exempt || (ref_ok && (ref_name == "view" ||
                                      RoleClean(role, PolarisExecRule, &message, "ClusterRole", ref_name)));
      e.Emit(CheckId::kClusterRoleBindingPodExecAttach, i, "", ok, ok ? "" : message);
    }
    {
      std::string message;
      bool ok = exempt || (ref_ok && ref_name != "cluster-admin" &&
                           (ref_name == "view" ||
                            RoleClean(role, PolarisWildcardRule, &message, "ClusterRole", ref_name)));
      e.Emit(CheckId::kClusterRoleBindingClusterAdmin, i, "", ok, ok ? "" : message);
    }
  }
  for (uint32_t i : inv.OfKind("RoleBinding")) {
    const Object& b = inv.at(i);
    const JsonValue* ref = Get(b.value, "roleRef");
    std::string_view ref_kind = Str(Get(ref, "kind"));
    std::string_view ref_name = Str(Get(ref, "name"));
    bool exempt = SystemName(b.ref.name);
    bool group_ok = Str(Get(ref, "apiGroup")) == "rbac.authorization.k8s.io" && !ref_name.empty();
    if (ref_kind == "ClusterRole") {
      const Object* role = inv.Find("ClusterRole", "", ref_name);
      std::string m1, m2;
      bool exec_ok = exempt || (group_ok && RoleClean(role, PolarisExecRule, &m1, "ClusterRole", ref_name));
      bool admin_ok = exempt || (group_ok && ref_name != "cluster-admin" &&
                                 RoleClean(role, PolarisWildcardRule, &m2, "ClusterRole", ref_name));
      e.Emit(CheckId::kRoleBindingClusterRolePodExecAttach, i, "", exec_ok, exec_ok ? "" : m1);
      e.Emit(CheckId::kRoleBindingClusterAdminClusterRole, i, "", admin_ok, admin_ok ? "" : m2);
      // Pointing at a ClusterRole passes the Role checks.
      e.Emit(CheckId::kRoleBindingRolePodExecAttach, i, "", true);
      e.Emit(CheckId::kRoleBindingClusterAdminRole, i, "", true);
    } else {
      const Object* role = inv.Find("Role", b.ref.ns, ref_name);
      bool is_role = ref_kind == "Role";
      std::string m1, m2;
      bool exec_ok = exempt || (group_ok && is_role && RoleClean(role, PolarisExecRule, &m1, "Role", ref_name));
      bool admin_ok = exempt || (group_ok && is_role && RoleClean(role, PolarisWildcardRule, &m2, "Role", ref_name));
      e.Emit(CheckId::kRoleBindingRolePodExecAttach, i, "", exec_ok, exec_ok ? "" : m1);
      e.Emit(CheckId::kRoleBindingClusterAdminRole, i, "", admin_ok, admin_ok ? "" : m2);
      e.Emit(CheckId::kRoleBindingClusterRolePodExecAttach, i, "", is_role || exempt);
      e.Emit(CheckId::kRoleBindingClusterAdminClusterRole, i, "", is_role || exempt);
    }
  }
}

// ---- what bindings grant -----------------------------------------------------------------

bool ReadsSecrets(const JsonValue& r) {
  return Grants(r, {"get", "list", "watch"}, {""}, {"secrets"}, /*require_all_names=*/true);
}
bool ExecsPods(const JsonValue& r) {
  return Grants(r, {"create", "get"}, {""}, {"pods/exec", "pods/attach"});
}
bool Escalates(const JsonValue& r) {
  return Grants(r, {"escalate", "bind"}, {"rbac.authorization.k8s.io"}, {"roles", "clusterroles"}) ||
         Grants(r, {"impersonate"}, {"", "authentication.k8s.io"},
                {"users", "groups", "serviceaccounts", "uids", "userextras/*"});
}
bool GrantsResources(const JsonValue& r) { return Size(Arr(Get(r, "resources"))) > 0; }

void BindingAnalysis(ScanContext& ctx) {
  Emitter& e = ctx.emit;
  const Inventory& inv = ctx.inventory;
  Roles roles(inv);
  for (std::string_view kind : {"ClusterRoleBinding", "RoleBinding"}) {
    bool cluster = kind == "ClusterRoleBinding";
    for (uint32_t i : inv.OfKind(kind)) {
      const Object& b = inv.at(i);
      const auto* rules = roles.RulesFor(b);
      std::string role = RoleText(b.value);
      std::string subjects = Subjects(b.value);
      std::string unknown = fmt::format("{} was not among the scanned objects", role);
      auto emit_grant = [&](CheckId id, bool (*pred)(const JsonValue&), std::string_view what) {
        if (!e.Enabled(id)) return;
        if (!rules) {
          e.Emit(id, i, "", true, unknown);
          return;
        }
        bool bad = AnyGrant(*rules, pred);
        e.Emit(id, i, "", !bad,
               bad ? fmt::format("{} lets {} {}", role, subjects, what) : std::string());
      };
      // Kubernetes' own bindings (system: names, the rbac-defaults it
      // bootstraps such as cluster-admin → system:masters) are not findings.
      bool bootstrapped = Label(Get(b.value, "metadata"), "kubernetes.io/bootstrapping") == "rbac-defaults";
      bool system = SystemName(b.ref.name) || bootstrapped;
      if (!system) {
        if (cluster) {
          emit_grant(CheckId::kRbacSecretsClusterWide, ReadsSecrets, "read Secrets in every namespace");
        }
        emit_grant(CheckId::kRbacPodExec, ExecsPods,
                   cluster ? "exec or attach into every pod" : "exec or attach into pods of " + b.ref.ns);
        emit_grant(CheckId::kRbacEscalation, Escalates, "escalate, bind or impersonate");
        bool default_sa = false;
        if (const JsonValue* subs = Arr(Get(b.value, "subjects"))) {
          for (const auto& s : subs->GetArray()) {
            default_sa |= Str(Get(s, "kind")) == "ServiceAccount" && Str(Get(s, "name")) == "default";
          }
        }
        e.Emit(CheckId::kRbacDefaultServiceAccount, i, "", !default_sa,
               default_sa ? fmt::format("{} is granted to a default ServiceAccount ({})", role, subjects)
                          : std::string());
      }
      // Anyone may name a binding system:..., so only the bootstrapped
      // defaults are spared these two.
      if (bootstrapped) continue;
      if (e.Enabled(CheckId::kRbacAnonymous)) {
        bool anonymous = HasSubject(b.value, "User", "system:anonymous") ||
                         HasSubject(b.value, "Group", "system:unauthenticated");
        bool bad = anonymous && (!rules || AnyGrant(*rules, GrantsResources));
        e.Emit(CheckId::kRbacAnonymous, i, "", !bad,
               bad ? fmt::format("{} is granted to unauthenticated users{}", role,
                                 rules ? "" : " and was not among the scanned objects")
                   : std::string());
      }
      bool masters = HasSubject(b.value, "Group", "system:masters");
      e.Emit(CheckId::kRbacSystemMasters, i, "", !masters);
    }
  }
  if (e.Enabled(CheckId::kRbacWildcard)) {
    for (std::string_view kind : {"ClusterRole", "Role"}) {
      for (uint32_t i : inv.OfKind(kind)) {
        const Object& r = inv.at(i);
        if (SystemName(r.ref.name) ||
            (kind == "ClusterRole" && (r.ref.name == "admin" || r.ref.name == "edit" ||
                                       r.ref.name == "view" || r.ref.name == "cluster-admin"))) {
          continue;
        }
        std::string where;
        if (const JsonValue* rules = Arr(Get(r.value, "rules"))) {
          for (const auto& rule : rules->GetArray()) {
            for (std::string_view field : {"verbs", "resources", "apiGroups"}) {
              if (Contains(Get(rule, field), "*") && where.find(field) == std::string::npos) {
                if (!where.empty()) where += ", ";
                where += field;
              }
            }
          }
        }
        e.Emit(CheckId::kRbacWildcard, i, "", where.empty(),
               where.empty() ? "" : "A rule uses * in " + where);
      }
    }
  }
}

}  // namespace

void RunRbacChecks(ScanContext& ctx) {
  PolarisRoleChecks(ctx);
  PolarisBindingChecks(ctx);
  BindingAnalysis(ctx);
}

}  // namespace srexpert::scan
