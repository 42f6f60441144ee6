#include "kube/token_source.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/log.h"
#include "common/time_format.h"

namespace srexpert::kube {

TokenSource::TokenSource(std::string token, std::string file,
                         std::chrono::seconds refresh_period, Clock& clock, ExecRunner exec)
    : static_token_(std::move(token)),
      file_(std::move(file)),
      refresh_period_(refresh_period),
      clock_(clock),
      exec_(std::move(exec)) {}

Result<std::string> TokenSource::FromExec() {
  const auto now = clock_.WallNow();
  if (have_cached_ && !stale_ && (!expiry_ || now + kExecExpirySkew < *expiry_)) return cached_;
  stale_ = false;
  auto cred = exec_();
  if (!cred) {
    if (have_cached_ && (!expiry_ || now < *expiry_)) {
      // Keep serving the last token while it lasts; the next Token() runs
      // the plugin again.
      log::Warn("exec credential plugin failed; keeping the previous token until it expires",
                {{"error", cred.error().ToString()}});
      return cached_;
    }
    return cred.error();
  }
  if (have_cached_ && cred->token != cached_) {
    log::Info("exec credential plugin returned a new token",
              {{"token", log::Redacted(cred->token)},
               {"expires", cred->expiry ? FormatRfc3339(*cred->expiry) : "never"}});
  }
  cached_ = std::move(cred->token);
  expiry_ = cred->expiry;
  have_cached_ = true;
  return cached_;
}

Result<std::string> TokenSource::Token() {
  if (exec_) {
    std::lock_guard<std::mutex> lock(mu_);
    return FromExec();
  }
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
