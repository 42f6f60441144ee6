// Server-side apply and field ownership (managedFields), modelled on
// sigs.k8s.io/structured-merge-diff as kube-apiserver uses it. Pure functions
// over JSON objects; the storage layer calls them inside its transaction.
//
// A field path is a list of elements in the managedFields FieldsV1 spelling:
//   "f:<field>"            a map field
//   "k:{\"name\":\"app\"}"  an item of an associative list, by its keys
//   "v:\"x\""              an item of a set list, by value
// A FieldSet holds the paths a manager owns: leaves (scalars, atomic lists,
// empty maps) and list items themselves (the "." entry in FieldsV1).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/json.h"

namespace srexpert::testing::ssa {

using Path = std::vector<std::string>;
using FieldSet = std::set<Path>;

// How a list is merged, as the kind's OpenAPI schema declares it
// (x-kubernetes-list-type / listType markers).
struct ListInfo {
  enum class Type { kAtomic, kMap, kSet };
  Type type = Type::kAtomic;
  std::vector<std::string> keys;  // for kMap
};

class Schema {
 public:
  virtual ~Schema() = default;
  // `field_path` names the list by its field names from the root, list items
  // skipped: {"spec","template","spec","containers"}.
  virtual ListInfo List(const std::vector<std::string>& field_path) const = 0;
};

// The associative lists of the built-in kinds we serve (k8s.io/api markers):
// containers/initContainers/ephemeralContainers/env/volumes/imagePullSecrets
// by name, volumeMounts by mountPath, container ports by
// (containerPort, protocol), Service ports by (port, protocol),
// ownerReferences by uid, conditions by type, finalizers as a set. All other
// lists are atomic.
std::unique_ptr<Schema> BuiltinSchema(const std::string& kind);
// A CRD's structural schema (openAPIV3Schema): x-kubernetes-list-type map
// with x-kubernetes-list-map-keys, set, or atomic (the default). metadata
// follows the built-in rules.
std::unique_ptr<Schema> CrdSchema(std::shared_ptr<const json::Document> schema);

// Which top-level parts of an object a write may own.
enum class Scope {
  kAll,         // kinds without a status subresource
  kMain,        // main resource of a kind with /status: everything but status
  kStatusOnly,  // the /status subresource
};

// The paths of every leaf and list item set in `obj`, excluding fields the
// server owns (apiVersion, kind, metadata.name/namespace/uid/resourceVersion/
// generation/creationTimestamp/deletionTimestamp/deletionGracePeriodSeconds/
// managedFields/selfLink).
FieldSet CollectFields(const json::Value& obj, const Schema& schema, Scope scope);

// FieldsV1 JSON <-> FieldSet.
json::Value ToFieldsV1(const FieldSet& set, json::Allocator& a);
FieldSet FromFieldsV1(const json::Value& fields);

// ".spec.containers[name=\"app\"].image" — the spelling of conflict causes.
std::string PathString(const Path& path);

struct ManagedEntry {
  std::string manager;
  std::string operation;  // "Apply" or "Update"
  std::string api_version;
  std::string time;
  std::string subresource;  // "" or "status"
  FieldSet fields;
};
std::vector<ManagedEntry> ReadManagedFields(const json::Value& obj);
// Writes metadata.managedFields (removes it when `entries` is empty).
void WriteManagedFields(json::Document& obj, const std::vector<ManagedEntry>& entries);
// Equal apart from timestamps: a write that changes nothing else is a no-op.
bool SameOwnership(const std::vector<ManagedEntry>& a, const std::vector<ManagedEntry>& b);

struct Conflict {
  std::string manager;  // printed form: "\"kubectl\"" or "\"x\" using v1"
  Path path;
};

struct ApplyRequest {
  std::string manager;
  bool force = false;
  std::string api_version;
  std::string time;
  std::string subresource;
  Scope scope = Scope::kAll;
};

struct ApplyResult {
  json::Document object;  // merged object with managedFields updated
  std::vector<Conflict> conflicts;  // non-empty: the apply must fail (409)
};

// Server-side apply of `applied` onto `live` (null: create). Merges the
// applied fields (maps recursively, associative lists by key, everything
// else replaced), removes fields this manager applied before and no longer
// applies unless another manager owns them, records the manager's Apply
// entry, and reports conflicts: a field whose applied value differs from the
// live value and that another manager owns. With force, those fields change
// hands instead.
ApplyResult Apply(const json::Value* live, const json::Value& applied, const ApplyRequest& req,
                  const Schema& schema);

// Ownership bookkeeping for a non-apply write (create, update, patch) by
// `manager`: it takes over every field it changed (operation Update), other
// managers lose those, and ownership of removed fields is dropped. Writes
// the result into next's metadata.managedFields.
void RecordUpdate(const json::Value* old, json::Document& next, const std::string& manager,
                  const std::string& api_version, const std::string& time,
                  const std::string& subresource, Scope scope, const Schema& schema);

// The conflict message and causes, as apimachinery's NewConflictError words
// them.
std::string ConflictMessage(const std::vector<Conflict>& conflicts);

}  // namespace srexpert::testing::ssa
