// Watches one Lease (by name: a field selector, nothing else) and calls
// `on_released` whenever it shows no holder — so a standby can acquire right
// after the leader releases on SIGTERM. Losing the watch only costs speed:
// the elector's own retries still acquire.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "kube/informer.h"
#include "kube/rest_client.h"

namespace srexpert::leaderelection {

class LeaseReleaseWatch {
 public:
  LeaseReleaseWatch(std::shared_ptr<kube::RestClient> client, const std::string& ns,
                    const std::string& name, std::function<void()> on_released);
  ~LeaseReleaseWatch();
  void Start();
  void Stop();

 private:
  kube::Informer informer_;
};

}  // namespace srexpert::leaderelection
