// GVK → REST resource, from API discovery. A group-version's resource list
// (/api/v1 or /apis/<group>/<version>) is fetched on first use and cached; a
// kind missing from the cached list triggers one re-fetch, so kinds that
// appear later (CRDs created at run time) are found without a restart.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "kube/call_bounds.h"
#include "kube/error.h"

namespace srexpert::kube {

struct GroupVersion {
  std::string group;    // "" for the core group
  std::string version;
  // "apps/v1" → {apps, v1}; "v1" → {"", v1}.
  static GroupVersion Parse(std::string_view api_version);
  std::string ApiVersion() const;
  // "/api/v1" or "/apis/<group>/<version>".
  std::string Path() const;
};

struct ResourceInfo {
  GroupVersion gv;
  std::string kind;
  std::string resource;   // plural name, e.g. "deployments"
  bool namespaced = false;
  bool has_status = false;  // "<resource>/status" is served
  std::vector<std::string> verbs;

  // Namespaced: <gv>/namespaces/<ns>/<resource>, or <gv>/<resource> across
  // all namespaces when ns is empty. Cluster-scoped: <gv>/<resource>, ns
  // ignored.
  std::string CollectionPath(std::string_view ns) const;
  // CollectionPath(ns) + "/" + name [+ "/" + subresource].
  std::string ObjectPath(std::string_view ns, std::string_view name,
                         std::string_view subresource = {}) const;
};

class ResourceMapper {
 public:
  // GETs an API path within `bounds` and returns the decoded JSON body.
  using Fetch = std::function<Result<rapidjson::Document>(const std::string& path,
                                                         const CallBounds& bounds)>;
  explicit ResourceMapper(Fetch fetch);

  // kNotFound ("no matches for kind ...") when the group-version or the kind
  // is not served; other errors are the fetch's. A discovery request it
  // makes is bounded by `bounds`. Thread-safe; the fetch runs without the
  // lock held.
  Result<ResourceInfo> Resolve(std::string_view api_version, std::string_view kind,
                               const CallBounds& bounds = {});
  // Forgets every cached group-version.
  void Invalidate();

 private:
  Result<std::vector<ResourceInfo>> Discover(const GroupVersion& gv, const CallBounds& bounds);

  Fetch fetch_;
  std::mutex mu_;
  std::map<std::string, std::vector<ResourceInfo>> cache_;  // by apiVersion
};

}  // namespace srexpert::kube
