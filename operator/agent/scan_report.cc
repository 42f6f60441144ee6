#include "agent/scan_report.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <deque>
#include <set>
#include <tuple>

#include "common/time_format.h"
#include "scan/engine.h"
#include "stream/projection.h"

namespace srexpert::agent {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view v) {
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void WriteCounts(Writer& w, const scan::Counts& c) {
  w.StartObject();
  w.Key("score");
  w.Int(c.Score());
  w.Key("passed");
  w.Uint64(c.passed);
  w.Key("warnings");
  w.Uint64(c.warnings);
  w.Key("dangers");
  w.Uint64(c.dangers);
  w.EndObject();
}

void WriteList(Writer& w, const char* key, const std::vector<std::string>& items) {
  w.Key(key);
  w.StartArray();
  for (const auto& i : items) Str(w, i);
  w.EndArray();
}

// The report's per-namespace members (docs/protocol.md, "Scan reports").
struct NamespaceJson {
  std::string by_namespace;  // {"<ns>": counts}
  std::string readiness;     // [{name, enforce, version, meets, pods, next?, rejected...}]
};

NamespaceJson RenderNamespaces(const scan::Summary& summary, const scan::Report& report) {
  // A namespace's list of pods the next level would reject is cut here: the
  // count stays exact, the names are examples.
  constexpr size_t kRejectedShown = 10;
  NamespaceJson out;
  {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    for (const auto& [ns, counts] : summary.by_namespace) {
      Str(w, ns);
      WriteCounts(w, counts);
    }
    w.EndObject();
    out.by_namespace.assign(buf.GetString(), buf.GetSize());
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const scan::NamespaceReadiness& n : report.namespaces) {
    w.StartObject();
    w.Key("name");
    Str(w, n.name);
    w.Key("enforce");
    Str(w, scan::PssLevelName(n.enforce.level));
    w.Key("enforceVersion");
    Str(w, n.enforce.version.ToString());
    w.Key("meets");
    Str(w, scan::PssLevelName(n.meets));
    w.Key("pods");
    w.Uint64(n.pods);
    if (n.next) {
      w.Key("next");
      Str(w, scan::PssLevelName(*n.next));
      w.Key("rejectedAtNext");
      w.Uint64(n.rejected_by_next.size());
      // By object name: the same cluster gives the same report, whatever
      // order the cache lists it in.
      std::vector<const std::pair<std::string, std::string>*> rejected;
      for (const auto& r : n.rejected_by_next) rejected.push_back(&r);
      std::sort(rejected.begin(), rejected.end(),
                [](const auto* a, const auto* b) { return *a < *b; });
      if (rejected.size() > kRejectedShown) rejected.resize(kRejectedShown);
      w.Key("rejected");
      w.StartArray();
      for (const auto* r : rejected) {
        w.StartObject();
        w.Key("object");
        Str(w, r->first);
        w.Key("message");
        Str(w, r->second);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  out.readiness.assign(buf.GetString(), buf.GetSize());
  return out;
}

std::string ParseList(const rapidjson::Value& doc, const char* key, std::vector<std::string>* out) {
  auto it = doc.FindMember(key);
  if (it == doc.MemberEnd()) return "";
  if (!it->value.IsArray() || it->value.Size() > 256) {
    return fmt::format("{}: must be an array of at most 256 strings", key);
  }
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString() || v.GetStringLength() == 0 || v.GetStringLength() > 253) {
      return fmt::format("{}: every entry must be a string of 1..253 bytes", key);
    }
    out->emplace_back(v.GetString(), v.GetStringLength());
  }
  return "";
}

bool Contains(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

std::string ParseScanScope(std::string_view payload, ScanScope* out) {
  rapidjson::Document doc;
  doc.Parse(payload.data(), payload.size());
  if (doc.HasParseError() || !doc.IsObject()) return "payload: must be a JSON object";
  for (const auto& m : doc.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    // requestedBy: who asked, which a backend with users sets on every
    // request (docs/hub.md), actions and scans alike.
    if (name == "requestedBy") {
      if (!m.value.IsString()) return "payload: requestedBy must be a string";
      continue;
    }
    if (name != "namespaces" && name != "kinds" && name != "checks") {
      return fmt::format("payload: unknown member \"{}\" (namespaces, kinds, checks, requestedBy)",
                         name.substr(0, 64));
    }
  }
  ScanScope scope;
  for (auto [key, list] : {std::pair{"namespaces", &scope.namespaces},
                           std::pair{"kinds", &scope.kinds}, std::pair{"checks", &scope.checks}}) {
    if (std::string e = ParseList(doc, key, list); !e.empty()) return e;
  }
  for (const auto& k : scope.kinds) {
    if (!stream::FindCollectedKind(k)) {
      return fmt::format("kinds: \"{}\" is not a kind the agent collects", k.substr(0, 64));
    }
  }
  *out = std::move(scope);
  return "";
}

const std::vector<std::string>& NotEvaluatedInCluster() {
  // None: the projection keeps what every built-in check reads, and reduces
  // env values and ConfigMap data to the sensitive-data checks' verdicts
  // (scan/sensitive_data.h). A check added later that the cache cannot
  // evaluate goes here, so that it is listed rather than reported wrongly.
  static const std::vector<std::string> ids;
  return ids;
}

ScanOutcome RunCacheScan(const CachedObjects& objects, const ScanScope& scope,
                         std::shared_ptr<const scan::ScanConfig> config, size_t max_bytes,
                         Clock& clock) {
  ScanOutcome out;
  const auto started = clock.Now();
  const auto scanned_at = clock.WallNow();

  scan::ScanOptions options;
  options.config = std::move(config);
  options.only = scope.checks;
  options.skip = NotEvaluatedInCluster();
  if (std::string e = scan::ValidateSelection(options); !e.empty()) {
    out.error = e;
    return out;
  }

  // Every object parsed into one pool (the engine looks across objects:
  // owners, bindings, PDBs). Out of scope objects stay as context only.
  rapidjson::MemoryPoolAllocator<> pool;
  std::deque<rapidjson::Document> docs;
  std::vector<scan::Object> inputs;
  objects([&](const std::string& kind, const std::string& ns, const std::string&,
              const std::string& json) {
    const stream::CollectedKind* k = stream::FindCollectedKind(kind);
    if (!k) return;
    rapidjson::Document& d = docs.emplace_back(&pool);
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject()) {
      docs.pop_back();
      return;
    }
    scan::Object o = scan::MakeObject(d, kind, k->api_version);
    o.source = "cluster";
    const bool ns_in =
        scope.namespaces.empty() ||
        (k->namespaced ? Contains(scope.namespaces, ns)
                       : kind == "Namespace" && Contains(scope.namespaces, o.ref.name));
    const bool kind_in = scope.kinds.empty() || Contains(scope.kinds, kind);
    o.context_only = !(ns_in && kind_in);
    if (!o.context_only) ++out.objects;
    inputs.push_back(std::move(o));
  });

  const scan::Report report = scan::Scan(inputs, options);
  const scan::Summary summary = scan::Summarize(report);
  out.counts = summary.total;
  out.by_category = summary.by_category;
  out.duration = std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now() - started);

  std::vector<const scan::Finding*> failed;
  for (const scan::Finding& f : report.findings) {
    if (!f.passed && f.severity != scan::Severity::kIgnore) failed.push_back(&f);
  }
  out.findings = failed.size();
  auto order = [&](const scan::Finding* f) {
    const scan::ObjectRef& r = report.objects[f->object];
    return std::make_tuple(f->severity == scan::Severity::kDanger ? 0 : 1, f->check,
                           std::string_view(r.ns), std::string_view(r.kind),
                           std::string_view(r.name), report.Container(*f));
  };
  std::stable_sort(failed.begin(), failed.end(),
                   [&](const auto* a, const auto* b) { return order(a) < order(b); });

  // Findings are rendered one by one and kept while the whole still fits.
  std::string findings = "[";
  // What follows the findings: "omitted" and the closing brackets.
  constexpr size_t kTail = 64;
  rapidjson::StringBuffer head_buf;
  Writer w(head_buf);
  w.StartObject();
  w.Key("scannedAt");
  Str(w, FormatRfc3339(scanned_at));
  w.Key("durationMs");
  w.Int64(out.duration.count());
  w.Key("objects");
  w.Uint64(out.objects);
  if (!scope.Full()) {
    w.Key("scope");
    w.StartObject();
    WriteList(w, "namespaces", scope.namespaces);
    WriteList(w, "kinds", scope.kinds);
    WriteList(w, "checks", scope.checks);
    w.EndObject();
  }
  w.Key("score");
  w.Int(out.counts.Score());
  w.Key("counts");
  WriteCounts(w, out.counts);
  w.Key("byCategory");
  w.StartObject();
  for (const auto& [category, counts] : out.by_category) {
    Str(w, scan::CategoryName(category));
    WriteCounts(w, counts);
  }
  w.EndObject();
  // Per namespace: the score and the Pod Security readiness. Bounded: a
  // cluster with thousands of namespaces must not push the findings out of
  // the message, so past half the budget they are left out and counted.
  {
    const NamespaceJson ns = RenderNamespaces(summary, report);
    const size_t sofar = head_buf.GetSize();
    if (sofar + ns.by_namespace.size() + ns.readiness.size() + kTail <= max_bytes / 2) {
      w.Key("byNamespace");
      w.RawValue(ns.by_namespace.data(), ns.by_namespace.size(), rapidjson::kObjectType);
      w.Key("namespaces");
      w.RawValue(ns.readiness.data(), ns.readiness.size(), rapidjson::kArrayType);
    } else {
      w.Key("namespacesOmitted");
      w.Uint64(summary.by_namespace.size());
    }
  }
  WriteList(w, "notEvaluated", NotEvaluatedInCluster());
  w.Key("findings");
  // The writer puts the ':' before a value, which it never gets here.
  std::string head(head_buf.GetString(), head_buf.GetSize());
  head += ':';

  for (size_t i = 0; i < failed.size(); ++i) {
    const scan::Finding& f = *failed[i];
    const scan::ObjectRef& r = report.objects[f.object];
    const scan::CheckInfo& check = report.Check(f);
    rapidjson::StringBuffer b;
    Writer fw(b);
    fw.StartObject();
    fw.Key("check");
    Str(fw, check.id);
    fw.Key("severity");
    Str(fw, scan::SeverityName(f.severity));
    fw.Key("category");
    Str(fw, scan::CategoryName(check.category));
    fw.Key("kind");
    Str(fw, r.kind);
    fw.Key("namespace");
    Str(fw, r.ns);
    fw.Key("name");
    Str(fw, r.name);
    if (!report.Container(f).empty()) {
      fw.Key("container");
      Str(fw, report.Container(f));
    }
    fw.Key("message");
    Str(fw, report.Message(f));
    fw.EndObject();
    const size_t need = b.GetSize() + 1;
    if (head.size() + findings.size() + need + kTail > max_bytes) {
      out.omitted = failed.size() - i;
      break;
    }
    if (findings.size() > 1) findings += ',';
    findings.append(b.GetString(), b.GetSize());
  }
  findings += ']';
  out.json = std::move(head);
  out.json += findings;
  out.json += fmt::format(",\"omitted\":{}}}", out.omitted);
  return out;
}

}  // namespace srexpert::agent
