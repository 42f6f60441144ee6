// The generic registry: create/get/list/update/patch/delete with the
// semantics of k8s.io/apiserver's registry Store and the kinds' strategies
// (system metadata, generation, status subresource, optimistic concurrency,
// finalizers, namespace admission, CRD registration). HTTP-agnostic: the
// handler maps requests onto these calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "test/apiserver/resources.h"
#include "test/apiserver/status.h"
#include "test/apiserver/storage.h"

namespace srexpert::testing {

// The result of one API call: an object or list to send with `code`, or an error.
struct Outcome {
  int code = 200;
  json::Document body;
  std::optional<ApiError> error;
  // Warning headers ("unknown field \"spec.x\"" under fieldValidation=Warn).
  std::vector<std::string> warnings;

  static Outcome Error(ApiError e) {
    Outcome o;
    o.code = e.code;
    o.error = std::move(e);
    return o;
  }
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
  std::string resource_version;
  std::string resource_version_match;
};

struct WriteOptions {
  std::string field_manager;  // already defaulted from the User-Agent
  bool force = false;         // server-side apply only
  bool dry_run = false;
  // fieldValidation: "Strict", "Warn" or "Ignore"; "" means Warn, the
  // server's default. Applies to unknown fields of custom resources.
  std::string field_validation;
};

struct DeleteOptions {
  std::string propagation_policy;  // "", "Background", "Foreground", "Orphan"
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_rv;
  bool dry_run = false;
};

class RestStorage {
 public:
  RestStorage(Store& store, ResourceRegistry& registry, Clock& clock);

  Outcome Get(const ResourceType& type, const std::string& version, const std::string& ns,
              const std::string& name);
  Outcome List(const ResourceType& type, const std::string& version, const std::string& ns,
               const ListOptions& options);
  Outcome Create(const ResourceType& type, const std::string& version, const std::string& ns,
                 json::Document body, const WriteOptions& options);
  // PUT; `subresource` is "" or "status".
  Outcome Update(const ResourceType& type, const std::string& version, const std::string& ns,
                 const std::string& name, const std::string& subresource, json::Document body,
                 const WriteOptions& options);
  // `content_type` selects merge / JSON / strategic merge patch or apply.
  Outcome Patch(const ResourceType& type, const std::string& version, const std::string& ns,
                const std::string& name, const std::string& subresource,
                const std::string& content_type, const std::string& body,
                const WriteOptions& options);
  Outcome Delete(const ResourceType& type, const std::string& version, const std::string& ns,
                 const std::string& name, const DeleteOptions& options);
  // The /scale subresource (autoscaling/v1 Scale): spec.replicas of the
  // parent; status.replicas and status.selector from its status and
  // spec.selector. A write is a spec write of the parent (generation,
  // managedFields entry with subresource "scale"). Patches: merge, JSON and
  // strategic (as merge).
  Outcome GetScale(const ResourceType& type, const std::string& ns, const std::string& name);
  Outcome UpdateScale(const ResourceType& type, const std::string& ns, const std::string& name,
                      json::Document scale, const WriteOptions& options);
  Outcome PatchScale(const ResourceType& type, const std::string& ns, const std::string& name,
                     const std::string& content_type, const std::string& body,
                     const WriteOptions& options);
  Outcome DeleteCollection(const ResourceType& type, const std::string& version,
                           const std::string& ns, const ListOptions& list,
                           const DeleteOptions& options);

  // Copies `obj` with apiVersion/kind of the requested version (CRD versions
  // share storage; conversion strategy "None" only rewrites apiVersion).
  json::Document Render(const ResourceType& type, const std::string& version,
                        const json::Value& obj) const;

  // For the in-server controllers (garbage collector, namespace lifecycle),
  // which run inside one transaction.
  // Writes `next` as the new state of `old` (main resource, no
  // resourceVersion check); deletes it when that removed the last finalizer
  // of an object being deleted.
  ObjectPtr UpdateLocked(Store::Txn& txn, const ResourceType& type, const ObjectPtr& old,
                         json::Document next, const std::string& manager);
  // Deletes as a DELETE request would: marks the object (finalizers pending)
  // or removes it. Returns the updated object, or null when removed.
  ObjectPtr DeleteLocked(Store::Txn& txn, const ResourceType& type, const ObjectPtr& obj,
                         const std::string& propagation_policy);

  Store& store() { return store_; }
  ResourceRegistry& registry() { return registry_; }
  Clock& clock() { return clock_; }

 private:
  // Applies the kind's update strategy and commits. Used by PUT, PATCH and
  // the controllers. `old` must be current. On success returns the stored
  // object (possibly unchanged, or the final state if it was deleted).
  struct Committed {
    ObjectPtr object;
    bool deleted = false;
  };
  std::variant<Committed, ApiError> CommitUpdate(Store::Txn& txn, const ResourceType& type,
                                                 const ObjectPtr& old, json::Document next,
                                                 const std::string& subresource,
                                                 const std::string& manager, bool dry_run,
                                                 bool is_apply,
                                                 const std::string& field_validation = "Ignore",
                                                 std::vector<std::string>* warnings = nullptr);
  std::variant<json::Document, ApiError> PrepareCreate(Store::Txn& txn, const ResourceType& type,
                                                       const std::string& version,
                                                       const std::string& ns, json::Document body,
                                                       const std::string& field_validation,
                                                       std::vector<std::string>* warnings);
  // Custom resources: structural pruning, defaulting and OpenAPI validation
  // against the CRD version's schema, as the real server does on every
  // write (decoding + strategy validation). Unknown fields are an error
  // under fieldValidation=Strict and a warning under Warn.
  std::optional<ApiError> AdmitCustomResource(const ResourceType& type, json::Document& obj,
                                              const std::string& field_validation,
                                              std::vector<std::string>* warnings) const;
  Outcome ApplyPatch(const ResourceType& type, const std::string& version, const std::string& ns,
                     const std::string& name, const std::string& subresource,
                     const std::string& body, const WriteOptions& options);
  std::optional<ApiError> CheckTypeMeta(const ResourceType& type, const std::string& version,
                                        json::Value& body, json::Allocator& a) const;
  void OnCommitted(Store::Txn& txn, const ResourceType& type, const ObjectPtr& obj, bool deleted);
  json::Document DeleteResponse(const ResourceType& type, const std::string& version,
                                const json::Value& obj) const;

  Store& store_;
  ResourceRegistry& registry_;
  Clock& clock_;
};

}  // namespace srexpert::testing
