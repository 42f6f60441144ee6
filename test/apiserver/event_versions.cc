#include "test/apiserver/event_versions.h"

#include <utility>
#include <vector>

namespace srexpert::testing {

namespace {

// {events.k8s.io/v1 name, core v1 name}
constexpr std::pair<const char*, const char*> kRenamed[] = {
    {"regarding", "involvedObject"},
    {"note", "message"},
    {"deprecatedSource", "source"},
    {"reportingController", "reportingComponent"},
    {"deprecatedFirstTimestamp", "firstTimestamp"},
    {"deprecatedLastTimestamp", "lastTimestamp"},
    {"deprecatedCount", "count"},
};

// Moves member `from` of `v` to `to` (replacing it), if present.
void Rename(json::Value& v, const char* from, const char* to, json::Allocator& a) {
  auto it = v.FindMember(from);
  if (it == v.MemberEnd()) return;
  json::Value moved(std::move(it->value));
  v.RemoveMember(it);
  v.RemoveMember(to);
  v.AddMember(json::Value(to, a), std::move(moved), a);
}

// Unset, null, "", 0, {} and [] are all Go's zero value.
bool IsZero(const json::Value* v) {
  if (!v || v->IsNull()) return true;
  if (v->IsString()) return v->GetStringLength() == 0;
  if (v->IsNumber()) return v->GetDouble() == 0;
  if (v->IsBool()) return !v->GetBool();
  if (v->IsObject()) return v->MemberCount() == 0;
  if (v->IsArray()) return v->Empty();
  return false;
}

bool SameValue(const json::Value* a, const json::Value* b) {
  if (IsZero(a) || IsZero(b)) return IsZero(a) && IsZero(b);
  return *a == *b;
}

}  // namespace

bool IsEventsApiEvent(const ResourceType& type) {
  return type.group == "events.k8s.io" && type.resource == "events";
}

bool IsCoreEvent(const ResourceType& type) { return type.group.empty() && type.resource == "events"; }

void EventsV1ToCore(json::Value& event, json::Allocator& a) {
  if (!event.IsObject()) return;
  for (const auto& [events_name, core_name] : kRenamed) event.RemoveMember(core_name);
  for (const auto& [events_name, core_name] : kRenamed) Rename(event, events_name, core_name, a);
}

void CoreToEventsV1(json::Value& event, json::Allocator& a) {
  if (!event.IsObject()) return;
  for (const auto& [events_name, core_name] : kRenamed) Rename(event, core_name, events_name, a);
}

void AddUnsetEventMembers(json::Value& event, bool events_v1, json::Allocator& a) {
  if (!event.IsObject()) return;
  auto object = [&](const char* name) {
    if (!event.HasMember(name)) event.AddMember(json::Value(name, a), json::Value(rapidjson::kObjectType), a);
  };
  auto null = [&](const char* name) {
    if (!event.HasMember(name)) event.AddMember(json::Value(name, a), json::Value(), a);
  };
  auto empty_string = [&](const char* name) {
    if (!event.HasMember(name)) event.AddMember(json::Value(name, a), json::Value("", a), a);
  };
  null("eventTime");
  if (events_v1) {
    object("regarding");
    object("deprecatedSource");
    null("deprecatedFirstTimestamp");
    null("deprecatedLastTimestamp");
  } else {
    object("involvedObject");
    object("source");
    null("firstTimestamp");
    null("lastTimestamp");
    empty_string("reportingComponent");
    empty_string("reportingInstance");
  }
}

std::optional<ApiError> ValidateEventsV1Update(const json::Value& next, const json::Value& old,
                                               const std::string& name) {
  // {internal field path, stored (core v1 JSON) member}
  static constexpr std::pair<const char*, const char*> kImmutable[] = {
      {"involvedObject", "involvedObject"}, {"reason", "reason"},
      {"message", "message"},               {"source", "source"},
      {"firstTimestamp", "firstTimestamp"}, {"lastTimestamp", "lastTimestamp"},
      {"count", "count"},                   {"action", "action"},
      {"type", "type"},                     {"eventTime", "eventTime"},
      {"related", "related"},               {"reportingController", "reportingComponent"},
      {"reportingInstance", "reportingInstance"},
  };
  std::vector<StatusCause> causes;
  for (const auto& [path, member] : kImmutable) {
    const json::Value* now = json::Find(next, {member});
    if (SameValue(now, json::Find(old, {member}))) continue;
    std::string shown = !now ? "" : now->IsString() ? now->GetString() : json::Dump(*now);
    causes.push_back(InvalidValue(path, shown, "field is immutable"));
  }
  if (causes.empty()) return std::nullopt;
  return Invalid("", "Event", name, std::move(causes));
}

}  // namespace srexpert::testing
