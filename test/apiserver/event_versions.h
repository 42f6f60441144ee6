// events.k8s.io/v1 Event and core v1 Event are two versions of ONE resource:
// kube-apiserver keeps them in one place, as core Events, so an Event written
// through either API is read, listed and watched through both, with one
// resourceVersion sequence. The test server does the same (ResourceType::
// storage_group): objects are stored in the core form and these convert at
// the API's edge, as k8s.io/kubernetes pkg/apis/events/v1/conversion.go does.
//
// The fields whose names differ (events.k8s.io/v1 <-> core v1):
//   regarding <-> involvedObject      note <-> message
//   deprecatedSource <-> source       reportingController <-> reportingComponent
//   deprecatedFirstTimestamp <-> firstTimestamp
//   deprecatedLastTimestamp <-> lastTimestamp
//   deprecatedCount <-> count
// The rest (metadata, eventTime, series, reason, action, type, related,
// reportingInstance) keep their names.
#pragma once

#include <optional>
#include <string>

#include "common/json.h"
#include "test/apiserver/resources.h"
#include "test/apiserver/status.h"

namespace srexpert::testing {

// True for the events.k8s.io view of core Events.
bool IsEventsApiEvent(const ResourceType& type);
// True for core v1 Events.
bool IsCoreEvent(const ResourceType& type);

// The stored (core v1) form of an events.k8s.io/v1 Event, in place. A member
// with a core-only name is unknown to events.k8s.io/v1 and dropped, as the
// decoder drops unknown fields.
void EventsV1ToCore(json::Value& event, json::Allocator& a);

// The events.k8s.io/v1 form of a stored (core v1) Event, in place.
void CoreToEventsV1(json::Value& event, json::Allocator& a);

// The members Go's encoding/json writes even when unset (a struct or
// metav1.Time without a pointer is never omitted; a string without
// omitempty neither), so that an Event reads as kube-apiserver serves it.
// Core v1: involvedObject {}, source {}, firstTimestamp/lastTimestamp/
// eventTime null, reportingComponent/reportingInstance "". events.k8s.io/v1:
// eventTime null, regarding {}, deprecatedSource {},
// deprecatedFirstTimestamp/deprecatedLastTimestamp null.
void AddUnsetEventMembers(json::Value& event, bool events_v1, json::Allocator& a);

// An update through events.k8s.io/v1 may change only the series and the
// metadata (ValidateEventUpdate for the events.k8s.io request version): the
// 422 "field is immutable" for the first fields that changed, in
// kube-apiserver's order, with the internal (core) field paths. Both in the
// stored form.
std::optional<ApiError> ValidateEventsV1Update(const json::Value& next, const json::Value& old,
                                               const std::string& name);

}  // namespace srexpert::testing
