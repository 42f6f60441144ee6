// The seam between the collectors (resource, event and metrics collectors,
// which read the Kubernetes API) and the Streamer (which turns what they
// report into the sequenced snapshot/delta stream of docs/protocol.md).
//
// Collectors call a ChangeSink from their own threads; implementations are
// thread-safe. Every JSON text handed over is already projected
// (docs/streaming.md): compact, no managedFields, no secrets.
#pragma once

#include <memory>
#include <string>

namespace srexpert::stream {

using JsonText = std::shared_ptr<const std::string>;

class ChangeSink {
 public:
  virtual ~ChangeSink() = default;

  // The object (kind, namespace, name) now has this projected form. `ns` is
  // "" for cluster-scoped kinds. Reporting an unchanged form is allowed and
  // costs nothing downstream.
  virtual void Upsert(const std::string& kind, const std::string& ns, const std::string& name,
                      JsonText object) = 0;
  // The object is gone (watch DELETED, or missing from a relist).
  virtual void Remove(const std::string& kind, const std::string& ns,
                      const std::string& name) = 0;
  // The collector of `kind` has delivered its first complete list (every
  // object of the kind was Upsert()ed). The first snapshot waits for every
  // kind to be synced or unavailable.
  virtual void Synced(const std::string& kind) = 0;
  // The kind cannot be collected (forbidden, API not served); `reason` is one
  // line for the backend. A later Synced() makes it available again.
  virtual void Unavailable(const std::string& kind, const std::string& reason) = 0;

  // A Kubernetes Event in the normalised shape of docs/protocol.md ("delta
  // payload", events); `uid` keys it, a later report of the same uid (a
  // higher series count) replaces the earlier one.
  virtual void Event(const std::string& uid, JsonText event) = 0;
  // The latest metrics sample ({"available":true,...} or
  // {"available":false,"reason":...}); replaces any unsent earlier sample.
  virtual void Metrics(JsonText metrics) = 0;
};

}  // namespace srexpert::stream
