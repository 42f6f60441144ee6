// Deciding whether a child is in sync without writing. The operator applies a
// child only when the live object differs from what it would apply, so a
// reconcile that finds everything in sync performs zero writes.
//
// A live object is in sync when it *contains* the desired apply body: every
// field we set is present with the same value (the server adds defaults and
// other managers' fields; those are not ours to judge). A field we stopped
// setting is caught by the applied-hash annotation: it is a hash of the
// desired body, stamped into the body itself, so any change of what we want
// changes a value the live object must contain.
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"

namespace srexpert::controller {

inline constexpr std::string_view kAppliedHashAnnotation = "agent.srexpert.io/applied-hash";

// True when every member of `desired` is in `live` with an equal value;
// arrays must have the same length and match element by element. Resource
// quantities (inside "requests"/"limits") compare by value, as the apiserver
// canonicalizes them ("0.5" is stored as "500m").
bool LiveContains(const json::Value& live, const json::Value& desired);

// Adds metadata.annotations[kAppliedHashAnnotation] = sha256 of `desired`
// (as it is before stamping).
void StampAppliedHash(json::Document& desired);

// Parses a Kubernetes resource quantity ("100m", "1.5Gi", "2e3") into its
// value; false when `text` is not a quantity.
bool ParseQuantity(std::string_view text, long double* value);

}  // namespace srexpert::controller
