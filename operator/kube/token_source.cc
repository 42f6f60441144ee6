#include "kube/token_source.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/log.h"

namespace srexpert::kube {

TokenSource::TokenSource(std::string token, std::string file,
                         std::chrono::seconds refresh_period, Clock& clock)
    : static_token_(std::move(token)),
      file_(std::move(file)),
      refresh_period_(refresh_period),
      clock_(clock) {}

Result<std::string> TokenSource::Token() {
  if (file_.empty()) return static_token_;
  std::lock_guard<std::mutex> lock(mu_);
  auto now = clock_.Now();
  if (have_cached_ && !stale_ && now - read_at_ < refresh_period_) return cached_;
  stale_ = false;

  std::ifstream in(file_, std::ios::binary);
  std::ostringstream ss;
  if (in) ss << in.rdbuf();
  if (!in || in.bad()) {
    std::string why = std::strerror(errno);
    if (have_cached_) {
      // Keep serving the last good token; try again at the next refresh.
      read_at_ = now;
      log::Warn("cannot re-read token file; keeping the previous token",
                {{"file", file_}, {"error", why}});
      return cached_;
    }
    return Error(Reason::kConfig, fmt::format("cannot read token file \"{}\": {}", file_, why));
  }
  std::string token = ss.str();
  // Files written by editors or `echo` end with a newline; tokens never do.
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (have_cached_ && token != cached_) {
    log::Info("bearer token rotated", {{"file", file_}, {"token", log::Redacted(token)}});
  }
  cached_ = std::move(token);
  have_cached_ = true;
  read_at_ = now;
  return cached_;
}

void TokenSource::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  stale_ = true;
}

}  // namespace srexpert::kube
