#include "api/status.h"

#include <fmt/format.h>

#include <charconv>
#include <regex>

#include "api/names.h"
#include "common/json.h"

namespace srexpert::api {

namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

void SetIfNotEmpty(Value& obj, std::string_view key, const std::string& s, Allocator& alloc) {
  if (!s.empty()) json::SetString(obj, key, s, alloc);
}

// A non-negative decimal integer, nothing else ("+1", "1 ", "0x1" fail).
std::optional<int64_t> Count(const std::map<std::string, std::string>& a, std::string_view key) {
  auto it = a.find(std::string(key));
  if (it == a.end() || it->second.empty()) return std::nullopt;
  const std::string& s = it->second;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < 0) return std::nullopt;
  return n;
}

}  // namespace

std::optional<ScanStatus> ScanStatusFromAnnotations(
    const std::map<std::string, std::string>& annotations) {
  auto score = Count(annotations, kLeaseScanScoreAnnotation);
  auto dangers = Count(annotations, kLeaseScanDangersAnnotation);
  auto warnings = Count(annotations, kLeaseScanWarningsAnnotation);
  auto time = annotations.find(std::string(kLeaseScanTimeAnnotation));
  if (!score || *score > 100 || !dangers || !warnings || time == annotations.end()) {
    return std::nullopt;
  }
  // The CRD declares lastScanTime format date-time: an RFC 3339 timestamp.
  static const std::regex kRfc3339(
      R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$)");
  if (!std::regex_match(time->second, kRfc3339)) return std::nullopt;
  return ScanStatus{static_cast<int32_t>(*score), *dangers, *warnings, time->second};
}

const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type) {
  for (const auto& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

bool SetCondition(std::vector<Condition>* conditions, Condition c, std::string_view now) {
  if (c.message.size() > kMaxConditionMessage) c.message.resize(kMaxConditionMessage);
  for (auto& existing : *conditions) {
    if (existing.type != c.type) continue;
    c.last_transition_time =
        existing.status == c.status ? existing.last_transition_time : std::string(now);
    bool changed = existing.status != c.status || existing.reason != c.reason ||
                   existing.message != c.message ||
                   existing.observed_generation != c.observed_generation ||
                   existing.last_transition_time != c.last_transition_time;
    existing = std::move(c);
    return changed;
  }
  c.last_transition_time = std::string(now);
  conditions->push_back(std::move(c));
  return true;
}

Value StatusToJson(const AgentConfigStatus& status, Allocator& alloc) {
  Value out(rapidjson::kObjectType);
  json::Set(out, "observedGeneration", Value(static_cast<int64_t>(status.observed_generation)),
            alloc);
  Value conditions(rapidjson::kArrayType);
  for (const auto& c : status.conditions) {
    Value cond(rapidjson::kObjectType);
    json::SetString(cond, "type", c.type, alloc);
    json::SetString(cond, "status", c.status, alloc);
    json::Set(cond, "observedGeneration", Value(static_cast<int64_t>(c.observed_generation)),
              alloc);
    json::SetString(cond, "lastTransitionTime", c.last_transition_time, alloc);
    json::SetString(cond, "reason", c.reason, alloc);
    json::SetString(cond, "message", c.message, alloc);
    conditions.PushBack(cond, alloc);
  }
  json::Set(out, "conditions", std::move(conditions), alloc);
  Value ds(rapidjson::kObjectType);
  json::Set(ds, "desired", Value(status.daemon_set.desired), alloc);
  json::Set(ds, "ready", Value(status.daemon_set.ready), alloc);
  json::Set(ds, "updated", Value(status.daemon_set.updated), alloc);
  json::SetString(ds, "summary",
                  fmt::format("{}/{}", status.daemon_set.ready, status.daemon_set.desired), alloc);
  json::Set(out, "daemonSet", std::move(ds), alloc);
  SetIfNotEmpty(out, "leader", status.leader, alloc);
  SetIfNotEmpty(out, "tunnel", status.tunnel, alloc);
  if (status.scan) {
    Value scan(rapidjson::kObjectType);
    json::Set(scan, "score", Value(status.scan->score), alloc);
    json::Set(scan, "dangers", Value(status.scan->dangers), alloc);
    json::Set(scan, "warnings", Value(status.scan->warnings), alloc);
    SetIfNotEmpty(scan, "lastScanTime", status.scan->last_scan_time, alloc);
    json::Set(out, "scan", std::move(scan), alloc);
  }
  if (!status.managed_resources.empty()) {
    Value list(rapidjson::kArrayType);
    for (const auto& r : status.managed_resources) {
      Value item(rapidjson::kObjectType);
      json::SetString(item, "apiVersion", r.api_version, alloc);
      json::SetString(item, "kind", r.kind, alloc);
      json::SetString(item, "name", r.name, alloc);
      SetIfNotEmpty(item, "namespace", r.namespace_, alloc);
      list.PushBack(item, alloc);
    }
    json::Set(out, "managedResources", std::move(list), alloc);
  }
  return out;
}

AgentConfigStatus ParseStatus(const Value& object) {
  AgentConfigStatus s;
  const Value* status = json::Find(object, {"status"});
  if (status == nullptr || !status->IsObject()) return s;
  s.observed_generation = json::GetInt(*status, {"observedGeneration"});
  if (const Value* list = json::Find(*status, {"conditions"}); list && list->IsArray()) {
    for (const auto& item : list->GetArray()) {
      Condition c;
      c.type = json::GetString(item, {"type"});
      if (c.type.empty()) continue;
      c.status = json::GetString(item, {"status"});
      c.reason = json::GetString(item, {"reason"});
      c.message = json::GetString(item, {"message"});
      c.last_transition_time = json::GetString(item, {"lastTransitionTime"});
      c.observed_generation = json::GetInt(item, {"observedGeneration"});
      s.conditions.push_back(std::move(c));
    }
  }
  s.daemon_set.desired = static_cast<int32_t>(json::GetInt(*status, {"daemonSet", "desired"}));
  s.daemon_set.ready = static_cast<int32_t>(json::GetInt(*status, {"daemonSet", "ready"}));
  s.daemon_set.updated = static_cast<int32_t>(json::GetInt(*status, {"daemonSet", "updated"}));
  s.leader = json::GetString(*status, {"leader"});
  s.tunnel = json::GetString(*status, {"tunnel"});
  if (const Value* scan = json::Find(*status, {"scan"}); scan && scan->IsObject()) {
    ScanStatus v;
    v.score = static_cast<int32_t>(json::GetInt(*scan, {"score"}));
    v.dangers = json::GetInt(*scan, {"dangers"});
    v.warnings = json::GetInt(*scan, {"warnings"});
    v.last_scan_time = json::GetString(*scan, {"lastScanTime"});
    s.scan = std::move(v);
  }
  if (const Value* list = json::Find(*status, {"managedResources"}); list && list->IsArray()) {
    for (const auto& item : list->GetArray()) {
      s.managed_resources.push_back(
          {json::GetString(item, {"apiVersion"}), json::GetString(item, {"kind"}),
           json::GetString(item, {"name"}), json::GetString(item, {"namespace"})});
    }
  }
  return s;
}

}  // namespace srexpert::api
