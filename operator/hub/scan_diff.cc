#include "hub/scan_diff.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>

namespace srexpert::hub {
namespace {

using rapidjson::Value;

std::string_view Str(const Value& o, const char* name) {
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

// \x1f never occurs in Kubernetes names or check ids.
std::string Key(const Value& finding) {
  std::string k;
  for (const char* member : {"check", "kind", "namespace", "name", "container"}) {
    k += Str(finding, member);
    k += '\x1f';
  }
  return k;
}

const Value* Findings(const rapidjson::Document& d) {
  if (!d.IsObject()) return nullptr;
  auto it = d.FindMember("findings");
  return it != d.MemberEnd() && it->value.IsArray() ? &it->value : nullptr;
}

bool Complete(const rapidjson::Document& d) {
  auto it = d.FindMember("omitted");
  return it == d.MemberEnd() || (it->value.IsInt64() && it->value.GetInt64() == 0);
}

}  // namespace

std::string ScanDiff(std::string_view latest, const std::optional<std::string>& previous) {
  rapidjson::Document now, before;
  now.Parse(latest.data(), latest.size());
  const Value* now_findings = now.HasParseError() ? nullptr : Findings(now);
  if (!now_findings) return "";
  const Value* before_findings = nullptr;
  if (previous) {
    before.Parse(previous->data(), previous->size());
    before_findings = before.HasParseError() ? nullptr : Findings(before);
    if (!before_findings) return "";
  }
  std::set<std::string> now_keys, before_keys;
  for (const auto& f : now_findings->GetArray()) now_keys.insert(Key(f));
  if (before_findings) {
    for (const auto& f : before_findings->GetArray()) before_keys.insert(Key(f));
  }

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](std::string_view v) {
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("scannedAt");
  str(Str(now, "scannedAt"));
  w.Key("previousScannedAt");
  if (previous) {
    str(Str(before, "scannedAt"));
  } else {
    w.Null();
  }
  w.Key("complete");
  w.Bool(Complete(now) && (!previous || Complete(before)));
  w.Key("new");
  w.StartArray();
  for (const auto& f : now_findings->GetArray()) {
    if (!before_keys.count(Key(f))) f.Accept(w);
  }
  w.EndArray();
  w.Key("resolved");
  w.StartArray();
  if (before_findings) {
    for (const auto& f : before_findings->GetArray()) {
      if (!now_keys.count(Key(f))) f.Accept(w);
    }
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace srexpert::hub
