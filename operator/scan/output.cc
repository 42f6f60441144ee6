#include "scan/output.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <set>

#include "scan/pod_security.h"

namespace srexpert::scan {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(Writer& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
void String(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void Member(Writer& w, std::string_view k, std::string_view v) {
  Key(w, k);
  String(w, v);
}

void WriteCounts(Writer& w, const Counts& c) {
  Key(w, "score");
  w.Int(c.Score());
  Key(w, "passed");
  w.Uint64(c.passed);
  Key(w, "warnings");
  w.Uint64(c.warnings);
  Key(w, "dangers");
  w.Uint64(c.dangers);
}

void WriteAliases(Writer& w, const Aliases& a) {
  Key(w, "aliases");
  w.StartObject();
  if (!a.polaris.empty()) Member(w, "polaris", a.polaris);
  if (!a.pss.empty()) Member(w, "pss", a.pss);
  if (!a.pss_level.empty()) Member(w, "pssLevel", a.pss_level);
  if (!a.cis.empty()) Member(w, "cis", a.cis);
  if (!a.nsa.empty()) Member(w, "nsa", a.nsa);
  w.EndObject();
}

void WriteReadiness(Writer& w, const NamespaceReadiness& r) {
  Key(w, "podSecurity");
  w.StartObject();
  Member(w, "enforce", PssLevelName(r.enforce.level));
  Member(w, "enforceVersion", r.enforce.version.ToString());
  Key(w, "labeled");
  w.Bool(r.enforce.labeled);
  Member(w, "evaluatedAt", r.evaluated_at.ToString());
  Key(w, r.templates ? "podTemplates" : "pods");
  w.Uint64(r.pods);
  Member(w, "meets", PssLevelName(r.meets));
  if (r.next) {
    Member(w, "next", PssLevelName(*r.next));
    Key(w, "rejectedByNext");
    w.StartArray();
    for (const auto& [object, message] : r.rejected_by_next) {
      w.StartObject();
      Member(w, "object", object);
      Member(w, "message", message);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

std::string ObjectText(const ObjectRef& o) {
  if (o.ns.empty()) return fmt::format("{} {}", o.kind, o.name);
  return fmt::format("{} {}/{}", o.kind, o.ns, o.name);
}

}  // namespace

std::string RenderJson(const Report& report, const Summary& summary) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  Key(w, "score");
  w.Int(summary.total.Score());
  Key(w, "summary");
  w.StartObject();
  Key(w, "total");
  w.Uint64(summary.total.Total());
  Key(w, "passed");
  w.Uint64(summary.total.passed);
  Key(w, "warnings");
  w.Uint64(summary.total.warnings);
  Key(w, "dangers");
  w.Uint64(summary.total.dangers);
  Key(w, "categories");
  w.StartObject();
  for (const auto& [category, counts] : summary.by_category) {
    Key(w, CategoryName(category));
    w.StartObject();
    WriteCounts(w, counts);
    w.EndObject();
  }
  w.EndObject();
  Key(w, "namespaces");
  w.StartObject();
  std::set<std::string> names;
  for (const auto& [ns, counts] : summary.by_namespace) names.insert(ns);
  for (const auto& r : report.namespaces) names.insert(r.name);
  for (const std::string& ns : names) {
    Key(w, ns);
    w.StartObject();
    auto it = summary.by_namespace.find(ns);
    WriteCounts(w, it == summary.by_namespace.end() ? Counts{} : it->second);
    for (const auto& r : report.namespaces) {
      if (r.name == ns) WriteReadiness(w, r);
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  Key(w, "results");
  w.StartArray();
  for (const Finding& f : report.findings) {
    const ObjectRef& o = report.objects[f.object];
    w.StartObject();
    const CheckInfo& check = report.Check(f);
    Member(w, "check", check.id);
    WriteAliases(w, check.aliases);
    Member(w, "severity", SeverityName(f.severity));
    Key(w, "passed");
    w.Bool(f.passed);
    Key(w, "object");
    w.StartObject();
    Member(w, "apiVersion", o.api_version);
    Member(w, "kind", o.kind);
    Member(w, "namespace", o.ns);
    Member(w, "name", o.name);
    w.EndObject();
    if (check.scope == Scope::kContainer) Member(w, "container", report.Container(f));
    Member(w, "message", report.Message(f));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  std::string out(buffer.GetString(), buffer.GetSize());
  out += '\n';
  return out;
}

std::string RenderTable(const Report& report, const Summary& summary) {
  std::vector<const Finding*> failures;
  for (const Finding& f : report.findings) {
    if (!f.passed) failures.push_back(&f);
  }
  std::stable_sort(failures.begin(), failures.end(), [](const Finding* a, const Finding* b) {
    return a->severity > b->severity;
  });
  size_t w_check = 5, w_object = 6, w_container = 9;
  for (const Finding* f : failures) {
    w_check = std::max(w_check, report.Check(*f).id.size());
    w_object = std::max(w_object, ObjectText(report.objects[f->object]).size());
    w_container = std::max(w_container, report.Container(*f).size());
  }
  std::string out;
  if (failures.empty()) {
    out += "No failed checks.\n";
  } else {
    out += fmt::format("{:<8}  {:<{}}  {:<{}}  {:<{}}  {}\n", "SEVERITY", "CHECK", w_check, "OBJECT",
                       w_object, "CONTAINER", w_container, "MESSAGE");
    for (const Finding* f : failures) {
      out += fmt::format("{:<8}  {:<{}}  {:<{}}  {:<{}}  {}\n", SeverityName(f->severity),
                         report.Check(*f).id, w_check, ObjectText(report.objects[f->object]), w_object,
                         report.Container(*f).empty() ? "-" : report.Container(*f), w_container,
                         report.Message(*f));
    }
  }
  out += fmt::format("\nScore {}: {} passed, {} warnings, {} dangers ({} results)\n",
                     summary.total.Score(), summary.total.passed, summary.total.warnings,
                     summary.total.dangers, summary.total.Total());
  for (const auto& [category, counts] : summary.by_category) {
    out += fmt::format("  {:<12} {:>3}  ({} passed, {} warnings, {} dangers)\n", CategoryName(category),
                       counts.Score(), counts.passed, counts.warnings, counts.dangers);
  }
  if (!report.namespaces.empty()) {
    out += "\nPod Security readiness:\n";
    size_t w_ns = 9;
    for (const auto& r : report.namespaces) w_ns = std::max(w_ns, r.name.size());
    out += fmt::format("  {:<{}}  {:<20}  {:<10}  {}\n", "NAMESPACE", w_ns, "ENFORCES", "MEETS",
                       "RAISING ONE LEVEL");
    for (const auto& r : report.namespaces) {
      std::string enforces = r.enforce.labeled
                                 ? fmt::format("{}:{}", PssLevelName(r.enforce.level),
                                               r.enforce.version.ToString())
                                 : "privileged (unset)";
      std::string raising = "-";
      if (r.next) {
        raising = r.rejected_by_next.empty()
                      ? fmt::format("{}: rejects none of {}", PssLevelName(*r.next), r.pods)
                      : fmt::format("{}: rejects {} of {}", PssLevelName(*r.next),
                                    r.rejected_by_next.size(), r.pods);
      }
      out += fmt::format("  {:<{}}  {:<20}  {:<10}  {}\n", r.name, w_ns, enforces,
                         r.pods ? std::string(PssLevelName(r.meets)) : "-", raising);
      for (size_t i = 0; i < r.rejected_by_next.size() && i < 10; ++i) {
        out += fmt::format("  {:<{}}    {}: {}\n", "", w_ns, r.rejected_by_next[i].first,
                           r.rejected_by_next[i].second);
      }
    }
  }
  return out;
}

std::string RenderSarif(const Report& report, std::string_view tool_version) {
  // Rules: every check with a result, catalogue order then custom checks.
  std::vector<const CheckInfo*> rules;
  std::map<const CheckInfo*, size_t> index;
  std::set<const CheckInfo*> seen;
  for (const Finding& f : report.findings) seen.insert(&report.Check(f));
  for (const CheckInfo& c : Catalogue()) {
    if (seen.count(&c)) rules.push_back(&c);
  }
  if (report.custom_checks) {
    for (const CheckInfo& c : *report.custom_checks) {
      if (seen.count(&c)) rules.push_back(&c);
    }
  }
  for (size_t i = 0; i < rules.size(); ++i) index[rules[i]] = i;

  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  Member(w, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
  Member(w, "version", "2.1.0");
  Key(w, "runs");
  w.StartArray();
  w.StartObject();
  Key(w, "tool");
  w.StartObject();
  Key(w, "driver");
  w.StartObject();
  Member(w, "name", "srexpert-scan");
  Member(w, "version", tool_version);
  Key(w, "rules");
  w.StartArray();
  for (const CheckInfo* c : rules) {
    w.StartObject();
    Member(w, "id", c->id);
    Member(w, "name", c->title);
    Key(w, "shortDescription");
    w.StartObject();
    Member(w, "text", c->title);
    w.EndObject();
    Key(w, "fullDescription");
    w.StartObject();
    Member(w, "text", c->why.empty() ? c->title : c->why);
    w.EndObject();
    if (!c->remediation.empty()) {
      Key(w, "help");
      w.StartObject();
      Member(w, "text", c->remediation);
      w.EndObject();
    }
    Key(w, "defaultConfiguration");
    w.StartObject();
    Member(w, "level", c->severity == Severity::kDanger ? "error" : "warning");
    w.EndObject();
    Key(w, "properties");
    w.StartObject();
    Member(w, "category", CategoryName(c->category));
    Key(w, "tags");
    w.StartArray();
    String(w, CategoryName(c->category));
    if (!c->aliases.polaris.empty()) String(w, fmt::format("polaris:{}", c->aliases.polaris));
    if (!c->aliases.pss.empty()) {
      String(w, fmt::format("pss:{}:{}", c->aliases.pss_level, c->aliases.pss));
    }
    if (!c->aliases.cis.empty()) String(w, fmt::format("cis:{}", c->aliases.cis));
    w.EndArray();
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  Key(w, "results");
  w.StartArray();
  for (const Finding& f : report.findings) {
    if (f.passed) continue;
    const ObjectRef& o = report.objects[f.object];
    const auto& [source, line] = report.locations[f.object];
    std::string where = ObjectText(o);
    std::string_view container = report.Container(f);
    if (!container.empty()) where += fmt::format(" container {}", container);
    w.StartObject();
    const CheckInfo* check = &report.Check(f);
    Member(w, "ruleId", check->id);
    Key(w, "ruleIndex");
    w.Uint64(index[check]);
    Member(w, "level", f.severity == Severity::kDanger ? "error" : "warning");
    Key(w, "message");
    w.StartObject();
    Member(w, "text", fmt::format("{}: {}", where, report.Message(f)));
    w.EndObject();
    Key(w, "locations");
    w.StartArray();
    w.StartObject();
    if (!source.empty() && source[0] != '<' && source != "cluster") {
      Key(w, "physicalLocation");
      w.StartObject();
      Key(w, "artifactLocation");
      w.StartObject();
      Member(w, "uri", source);
      w.EndObject();
      if (line > 0) {
        Key(w, "region");
        w.StartObject();
        Key(w, "startLine");
        w.Int(line);
        w.EndObject();
      }
      w.EndObject();
    }
    Key(w, "logicalLocations");
    w.StartArray();
    w.StartObject();
    std::string fq = o.ns.empty() ? fmt::format("{}/{}", o.kind, o.name)
                                  : fmt::format("{}/{}/{}", o.ns, o.kind, o.name);
    if (!container.empty()) fq += fmt::format("/{}", container);
    Member(w, "name", o.name);
    Member(w, "fullyQualifiedName", fq);
    Member(w, "kind", "object");
    w.EndObject();
    w.EndArray();
    w.EndObject();
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  std::string out(buffer.GetString(), buffer.GetSize());
  out += '\n';
  return out;
}

}  // namespace srexpert::scan
