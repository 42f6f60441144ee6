// The bearer token a request carries. A token file is re-read when the cached
// copy is older than the refresh period (projected service-account tokens
// rotate, typically hourly) or after Invalidate() (the client calls it once on
// a 401 so that a token rotated since the last read is picked up at once).
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "kube/error.h"

namespace srexpert::kube {

class TokenSource {
 public:
  // A fixed token (file empty) or a file; `clock` must outlive this object.
  TokenSource(std::string token, std::string file, std::chrono::seconds refresh_period,
              Clock& clock);

  // The current token ("" when none is configured). If the file cannot be
  // read the last good token is kept (and the failure logged); the error is
  // returned only when no token was ever read.
  Result<std::string> Token();
  // Forces a re-read of the file on the next Token().
  void Invalidate();
  bool FromFile() const { return !file_.empty(); }

 private:
  const std::string static_token_;
  const std::string file_;
  const std::chrono::seconds refresh_period_;
  Clock& clock_;
  std::mutex mu_;
  std::string cached_;
  bool have_cached_ = false;
  bool stale_ = false;
  Clock::Steady read_at_{};
};

}  // namespace srexpert::kube
