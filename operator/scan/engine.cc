#include "scan/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "scan/context.h"
#include "scan/json_access.h"

namespace srexpert::scan {

namespace {

const std::vector<uint32_t> kNone;

std::string Key(std::string_view kind, std::string_view ns, std::string_view name) {
  std::string k;
  k.reserve(kind.size() + ns.size() + name.size() + 2);
  k.append(kind).append(1, '\x1f').append(ns).append(1, '\x1f').append(name);
  return k;
}

// Whether `name` selects `check` in --only / --skip.
bool Selects(std::string_view name, const CheckInfo& check) {
  if (name == check.id) return true;
  if (!check.aliases.polaris.empty() && name == check.aliases.polaris) return true;
  Category c;
  return ParseCategory(name, &c) && c == check.category;
}

bool SelectedBy(const std::vector<std::string>& names, const CheckInfo& check) {
  for (const auto& n : names) {
    if (Selects(n, check)) return true;
  }
  return false;
}

bool IsPssRestrictedControl(CheckId id) {
  switch (id) {
    case CheckId::kPssVolumeTypes:
    case CheckId::kPssPrivilegeEscalation:
    case CheckId::kPssRunAsNonRoot:
    case CheckId::kPssRunAsUser:
    case CheckId::kPssSeccompRestricted:
    case CheckId::kPssCapabilitiesRestricted:
      return true;
    default:
      return false;
  }
}

bool IsPssControl(CheckId id) {
  return static_cast<int>(id) <= static_cast<int>(CheckId::kPssCapabilitiesRestricted);
}

bool PrefixOfAny(const std::vector<std::string>& prefixes, std::string_view s) {
  if (prefixes.empty()) return true;
  for (const auto& p : prefixes) {
    if (s.substr(0, p.size()) == p) return true;
  }
  return false;
}

}  // namespace

// ---- Inventory ------------------------------------------------------------------

Inventory::Inventory(const std::vector<Object>& objects, bool skip_owned) : objects_(objects) {
  templates_.resize(objects.size());
  for (uint32_t i = 0; i < objects.size(); ++i) {
    const Object& o = objects[i];
    by_kind_[o.ref.kind].push_back(i);
    by_kind_ns_[Key(o.ref.kind, o.ref.ns, "")].push_back(i);
    by_key_.emplace(Key(o.ref.kind, o.ref.ns, o.ref.name), i);
    if (o.ref.kind == "Pod") pods_.push_back(i);
  }
  for (uint32_t i = 0; i < objects.size(); ++i) {
    const Object& o = objects[i];
    if (!IsWorkloadKind(o.ref.kind) || o.context_only) continue;
    Owner owner;
    if (skip_owned && o.value && ControllerOwner(*o.value, &owner) &&
        by_key_.count(Key(owner.kind, o.ref.ns, owner.name))) {
      continue;
    }
    templates_[i] = PodTemplateOf(o);
    if (templates_[i].spec == nullptr) continue;
    workloads_.push_back(i);
  }
}

const std::vector<uint32_t>& Inventory::OfKind(std::string_view kind) const {
  auto it = by_kind_.find(std::string(kind));
  return it == by_kind_.end() ? kNone : it->second;
}

const std::vector<uint32_t>& Inventory::InNamespace(std::string_view kind, std::string_view ns) const {
  auto it = by_kind_ns_.find(Key(kind, ns, ""));
  return it == by_kind_ns_.end() ? kNone : it->second;
}

const Object* Inventory::Find(std::string_view kind, std::string_view ns, std::string_view name) const {
  auto it = by_key_.find(Key(kind, ns, name));
  return it == by_key_.end() ? nullptr : &objects_[it->second];
}

std::vector<std::string> Inventory::NamespaceNames() const {
  std::set<std::string> names;
  for (const Object& o : objects_) {
    if (o.context_only) continue;
    if (o.ref.kind == "Namespace") names.insert(o.ref.name);
    else if (!o.ref.ns.empty()) names.insert(o.ref.ns);
  }
  return {names.begin(), names.end()};
}

// ---- Emitter --------------------------------------------------------------------

Emitter::Emitter(Report* report, const Inventory& inventory, const ScanOptions& options)
    : report_(report), inventory_(inventory), options_(options) {
  const auto& catalogue = Catalogue();
  enabled_.resize(catalogue.size());
  severity_.resize(catalogue.size());
  annotation_exemptions_.resize(inventory.objects().size());
  for (size_t i = 0; i < catalogue.size(); ++i) {
    const CheckInfo& c = catalogue[i];
    auto id = static_cast<CheckId>(i);
    bool on = true;
    Severity severity = c.severity;
    if (!options.only.empty() && !SelectedBy(options.only, c)) on = false;
    if (SelectedBy(options.skip, c)) on = false;
    if (options.config && options.config->checks) {
      const auto& checks = *options.config->checks;
      auto it = checks.find(std::string(c.id));
      if (it != checks.end()) {
        severity = it->second;
      } else if (!c.aliases.polaris.empty()) {
        on = false;  // Polaris runs only the checks its config lists
      }
    }
    if (severity == Severity::kIgnore) on = false;
    if (IsPssControl(id)) {
      if (options.pss_level == PssLevel::kPrivileged) on = false;
      if (options.pss_level == PssLevel::kBaseline && IsPssRestrictedControl(id)) on = false;
    }
    enabled_[i] = on;
    severity_[i] = severity;
  }
}

bool Emitter::Enabled(const CheckInfo& custom) const {
  if (!options_.only.empty() && !SelectedBy(options_.only, custom)) return false;
  if (SelectedBy(options_.skip, custom)) return false;
  return custom.severity != Severity::kIgnore;
}

bool Emitter::Exempt(const CheckInfo& check, uint32_t object, std::string_view container) {
  const ScanConfig* config = options_.config.get();
  bool disallow_all = config && config->disallow_exemptions;
  if (!disallow_all && !(config && config->disallow_annotation_exemptions)) {
    ObjectExemptions& ex = annotation_exemptions_[object];
    if (!ex.computed) {
      ex.computed = true;
      const JsonValue* annotations = MetadataField(inventory_.at(object).value, "annotations");
      if (annotations) {
        for (const auto& m : annotations->GetObject()) {
          std::string_view key = View(m.name);
          std::string_view value = Str(&m.value);
          if (key == "polaris.fairwinds.com/exempt") {
            if (EqualsIgnoreCase(value, "true")) ex.all = true;
          } else if (key.rfind("polaris.fairwinds.com/", 0) == 0 && key.size() > 29 &&
                     key.substr(key.size() - 7) == "-exempt") {
            if (EqualsIgnoreCase(value, "true")) {
              ex.names.push_back(std::string(key.substr(22, key.size() - 22 - 7)));
            }
          } else if (key == "scan.srexpert.io/exempt") {
            size_t start = 0;
            while (start <= value.size()) {
              size_t comma = value.find(',', start);
              std::string_view item = value.substr(
                  start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
              while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
              while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
              if (item == "*" || item == "all") ex.all = true;
              else if (!item.empty()) ex.names.push_back(std::string(item));
              if (comma == std::string_view::npos) break;
              start = comma + 1;
            }
          }
        }
      }
    }
    if (ex.all) return true;
    for (const auto& n : ex.names) {
      if (n == check.id || (!check.aliases.polaris.empty() && n == check.aliases.polaris)) return true;
    }
  }
  if (config && !disallow_all && !config->disallow_config_exemptions) {
    const ObjectRef& ref = inventory_.at(object).ref;
    for (const Exemption& e : config->exemptions) {
      if (!e.ns.empty() && e.ns != ref.ns) continue;
      if (!e.rules.empty() &&
          std::find(e.rules.begin(), e.rules.end(), check.id) == e.rules.end()) {
        continue;
      }
      if (!PrefixOfAny(e.controller_names, ref.name)) continue;
      if (PrefixOfAny(e.container_names, container)) return true;
    }
  }
  return false;
}

void Emitter::Emit(CheckId id, uint32_t object, std::string_view container, bool passed,
                   std::string message) {
  size_t i = static_cast<size_t>(id);
  if (!enabled_[i]) return;
  Emit(&Catalogue()[i], severity_[i], object, container, passed, std::move(message));
}

void Emitter::Emit(const CheckInfo* check, Severity severity, uint32_t object,
                   std::string_view container, bool passed, std::string message) {
  if (inventory_.at(object).context_only || Exempt(*check, object, container)) return;
  Finding f;
  f.check = report_->CheckIndex(check);
  f.object = object;
  f.severity = severity;
  f.passed = passed;
  if (!container.empty()) {
    // Consecutive results usually name the same container: skip the hash.
    // (last_container_ views the report's interned copy, so it stays valid.)
    if (container != last_container_) {
      last_container_index_ = report_->InternContainer(container);
      last_container_ = report_->Container(Finding{.container = last_container_index_});
    }
    f.container = last_container_index_;
  }
  if (!message.empty()) f.message = report_->InternMessage(std::move(message));
  report_->findings.push_back(f);
}

uint16_t Report::CheckIndex(const CheckInfo* check) const {
  const auto& catalogue = Catalogue();
  if (check >= catalogue.data() && check < catalogue.data() + catalogue.size()) {
    return static_cast<uint16_t>(check - catalogue.data());
  }
  for (size_t i = 0; custom_checks && i < custom_checks->size(); ++i) {
    if (&(*custom_checks)[i] == check) return static_cast<uint16_t>(catalogue.size() + i);
  }
  return 0;  // not reached: every check emitted is one of the two
}

uint32_t Report::InternContainer(std::string_view name) {
  auto it = container_index_.find(name);
  if (it != container_index_.end()) return it->second;
  containers_.emplace_back(name);
  auto index = static_cast<uint32_t>(containers_.size() - 1);
  container_index_.emplace(containers_.back(), index);
  return index;
}

uint32_t Report::InternMessage(std::string message) {
  auto it = message_index_.find(message);
  if (it != message_index_.end()) return it->second;
  messages_.push_back(std::move(message));
  auto index = static_cast<uint32_t>(messages_.size() - 1);
  message_index_.emplace(messages_.back(), index);
  return index;
}

// ---- Scan -------------------------------------------------------------------------

std::string ValidateSelection(const ScanOptions& options) {
  for (const auto* list : {&options.only, &options.skip}) {
    for (const auto& name : *list) {
      Category c;
      if (FindCheck(name) || ParseCategory(name, &c)) continue;
      bool custom = false;
      if (options.config) {
        for (const auto& cc : options.config->custom_checks) custom |= cc->name() == name;
      }
      if (!custom) return fmt::format("no check or category named \"{}\"", name);
    }
  }
  return "";
}

Report Scan(const std::vector<Object>& objects, const ScanOptions& options) {
  Report report;
  report.objects.reserve(objects.size());
  report.locations.reserve(objects.size());
  for (const Object& o : objects) {
    report.objects.push_back(o.ref);
    report.locations.emplace_back(o.source, o.line);
  }
  Inventory inventory(objects, options.skip_owned);
  Emitter emitter(&report, inventory, options);
  ScanContext ctx{inventory, options, emitter};
  RunPodSecurityChecks(ctx);
  RunWorkloadChecks(ctx);
  RunSensitiveDataChecks(ctx);
  RunAvailabilityChecks(ctx);
  RunNetworkChecks(ctx);
  RunRbacChecks(ctx);
  RunCustomChecks(ctx);
  return report;
}

}  // namespace srexpert::scan
