#include "leaderelection/lease_release_watch.h"

#include "common/json.h"

namespace srexpert::leaderelection {

namespace {

kube::InformerOptions Options(const std::string& ns, const std::string& name) {
  kube::InformerOptions o;
  o.resource = {"coordination.k8s.io/v1", "Lease", ns, ""};
  o.field_selector = "metadata.name=" + name;
  return o;
}

}  // namespace

LeaseReleaseWatch::LeaseReleaseWatch(std::shared_ptr<kube::RestClient> client,
                                     const std::string& ns, const std::string& name,
                                     std::function<void()> on_released)
    : informer_(std::move(client), Options(ns, name)) {
  auto check = [on_released](const kube::ObjectPtr& lease) {
    if (json::GetString(*lease, {"spec", "holderIdentity"}).empty()) on_released();
  };
  informer_.AddHandlers({check, [check](const kube::ObjectPtr&, const kube::ObjectPtr& n) { check(n); },
                         [on_released](const kube::ObjectPtr&) { on_released(); }});
}

LeaseReleaseWatch::~LeaseReleaseWatch() { Stop(); }
void LeaseReleaseWatch::Start() { informer_.Start(); }
void LeaseReleaseWatch::Stop() { informer_.Stop(); }

}  // namespace srexpert::leaderelection
