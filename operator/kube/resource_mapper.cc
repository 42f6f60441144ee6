#include "kube/resource_mapper.h"

#include <fmt/format.h>

#include "common/json.h"
#include "kube/url.h"

namespace srexpert::kube {

GroupVersion GroupVersion::Parse(std::string_view api_version) {
  auto slash = api_version.find('/');
  if (slash == std::string_view::npos) return {"", std::string(api_version)};
  return {std::string(api_version.substr(0, slash)), std::string(api_version.substr(slash + 1))};
}

std::string GroupVersion::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string GroupVersion::Path() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string ResourceInfo::CollectionPath(std::string_view ns) const {
  if (namespaced && !ns.empty()) {
    return fmt::format("{}/namespaces/{}/{}", gv.Path(), PercentEncode(ns), resource);
  }
  return fmt::format("{}/{}", gv.Path(), resource);
}

std::string ResourceInfo::ObjectPath(std::string_view ns, std::string_view name,
                                     std::string_view subresource) const {
  std::string path = fmt::format("{}/{}", CollectionPath(ns), PercentEncode(name));
  if (!subresource.empty()) path += fmt::format("/{}", subresource);
  return path;
}

ResourceMapper::ResourceMapper(Fetch fetch) : fetch_(std::move(fetch)) {}

Result<std::vector<ResourceInfo>> ResourceMapper::Discover(const GroupVersion& gv,
                                                          const CallBounds& bounds) {
  auto doc = fetch_(gv.Path(), bounds);
  if (!doc) return doc.error();
  const auto* list = json::Find(*doc, {"resources"});
  if (!list || !list->IsArray()) {
    return Error(Reason::kDecode, fmt::format("discovery {}: no resources list", gv.Path()));
  }
  std::vector<ResourceInfo> out;
  std::vector<std::string> with_status;
  for (const auto& r : list->GetArray()) {
    std::string name = json::GetString(r, {"name"});
    auto slash = name.find('/');
    if (slash != std::string::npos) {
      if (name.substr(slash + 1) == "status") with_status.push_back(name.substr(0, slash));
      continue;
    }
    ResourceInfo info;
    info.gv = gv;
    info.kind = json::GetString(r, {"kind"});
    info.resource = name;
    info.namespaced = json::GetBool(r, {"namespaced"});
    if (const auto* verbs = json::Find(r, {"verbs"}); verbs && verbs->IsArray()) {
      for (const auto& v : verbs->GetArray()) {
        if (v.IsString()) info.verbs.emplace_back(v.GetString(), v.GetStringLength());
      }
    }
    out.push_back(std::move(info));
  }
  for (auto& info : out) {
    for (const auto& s : with_status) info.has_status |= (s == info.resource);
  }
  return out;
}

Result<ResourceInfo> ResourceMapper::Resolve(std::string_view api_version,
                                             std::string_view kind, const CallBounds& bounds) {
  GroupVersion gv = GroupVersion::Parse(api_version);
  std::string key = gv.ApiVersion();
  auto lookup = [&](const std::vector<ResourceInfo>& list) -> const ResourceInfo* {
    for (const auto& info : list) {
      if (info.kind == kind) return &info;
    }
    return nullptr;
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (const auto* hit = lookup(it->second)) return *hit;
    }
  }
  // Miss: (re)discover this group-version once.
  auto fresh = Discover(gv, bounds);
  if (!fresh) {
    if (fresh.error().IsNotFound()) {
      return Error(Reason::kNotFound,
                   fmt::format("no matches for kind \"{}\" in version \"{}\" (group-version not "
                               "served)",
                               kind, key),
                   404);
    }
    return fresh.error();
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = cache_[key];
  slot = std::move(*fresh);
  if (const auto* hit = lookup(slot)) return *hit;
  return Error(Reason::kNotFound,
               fmt::format("no matches for kind \"{}\" in version \"{}\"", kind, key), 404);
}

void ResourceMapper::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  cache_.clear();
}

}  // namespace srexpert::kube
