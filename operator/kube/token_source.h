// The bearer token a request carries. A token file is re-read when the cached
// copy is older than the refresh period (projected service-account tokens
// rotate, typically hourly) or after Invalidate() (the client calls it once on
// a 401 so that a token rotated since the last read is picked up at once).
// An exec credential plugin is run when no token is cached, when the cached
// one is within kExecExpirySkew of its expirationTimestamp, and after
// Invalidate().
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "kube/error.h"
#include "kube/exec_credential.h"

namespace srexpert::kube {

class TokenSource {
 public:
  // Runs an exec plugin (RunExecPlugin, or a fake in tests).
  using ExecRunner = std::function<Result<ExecCredential>()>;
  // A plugin's token is renewed this long before it expires, so a request
  // does not leave with a token that expires on the way.
  static constexpr std::chrono::seconds kExecExpirySkew{10};

  // A fixed token (file and exec empty), a file, or an exec plugin (wins
  // over both); `clock` must outlive this object.
  TokenSource(std::string token, std::string file, std::chrono::seconds refresh_period,
              Clock& clock, ExecRunner exec = {});

  // The current token ("" when none is configured). If the file cannot be
  // read or the plugin fails, the last good token is kept while it has not
  // expired (and the failure logged); otherwise the error is returned.
  Result<std::string> Token();
  // Forces a re-read of the file, or a new run of the plugin, on the next
  // Token().
  void Invalidate();
  // Whether Invalidate() can produce a different token (a 401 is worth one
  // retry).
  bool Refreshable() const { return !file_.empty() || static_cast<bool>(exec_); }

 private:
  const std::string static_token_;
  const std::string file_;
  Result<std::string> FromExec();  // with mu_ held

  const std::chrono::seconds refresh_period_;
  Clock& clock_;
  const ExecRunner exec_;
  std::optional<Clock::Wall> expiry_;  // of the plugin's token
  std::mutex mu_;
  std::string cached_;
  bool have_cached_ = false;
  bool stale_ = false;
  Clock::Steady read_at_{};
};

}  // namespace srexpert::kube
