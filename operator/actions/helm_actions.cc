#include "actions/helm_actions.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace srexpert::actions {
namespace {

using helm::HelmDriver;
using helm::HelmError;
using helm::HelmResult;

// Helm's storage format names the target: a release is what Helm stores as
// Secrets of type helm.sh/release.v1 in its namespace.
constexpr const char* kReleaseApiVersion = "helm.sh/release.v1";
constexpr const char* kReleaseKind = "HelmRelease";

// Helm needs this much of the request's deadline beyond its own --timeout
// to write the release record after waiting (or to roll back with atomic).
constexpr std::chrono::seconds kDeadlineMargin{2};

Target ReleaseTarget(const std::string& ns, const std::string& release) {
  return {kReleaseApiVersion, kReleaseKind, ns, release};
}

// The payload without the registry's "requestedBy": the driver's parsers
// refuse every member they do not know.
json::Document WithoutRequestedBy(const json::Value& payload) {
  json::Document copy = json::Clone(payload);
  if (copy.IsObject()) json::Remove(copy, "requestedBy");
  return copy;
}

// The wire form of install/upgrade ({"chart": {"archive"} | {"repoURL",
// "name", "version"}}) → the driver's flat form (chartArchive / repoURL +
// chart + version), after checking what only the wire form can get wrong.
// nullopt + *error when refused.
std::optional<json::Document> FlattenInstall(const json::Value& payload,
                                             std::size_t max_archive_bytes, std::string* error) {
  if (!payload.IsObject()) {
    *error = "payload must be a JSON object";
    return std::nullopt;
  }
  static const std::vector<std::string_view> kAllowed = {
      "namespace", "release", "chart",          "values",     "wait",
      "atomic",    "dryRun",  "timeoutSeconds", "requestedBy"};
  for (auto it = payload.MemberBegin(); it != payload.MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (std::find(kAllowed.begin(), kAllowed.end(), name) == kAllowed.end()) {
      *error = "unknown field \"" + std::string(name) + "\"";
      return std::nullopt;
    }
  }
  const json::Value* chart = json::Find(payload, {"chart"});
  if (chart == nullptr || !chart->IsObject()) {
    *error =
        "chart is required: {\"archive\": <base64 .tgz>} or {\"repoURL\", \"name\", \"version\"}";
    return std::nullopt;
  }
  static const std::vector<std::pair<std::string_view, std::string_view>> kChartFields = {
      {"archive", "chartArchive"},
      {"repoURL", "repoURL"},
      {"name", "chart"},
      {"version", "version"}};
  json::Document flat = WithoutRequestedBy(payload);
  json::Remove(flat, "chart");
  auto& a = flat.GetAllocator();
  for (auto it = chart->MemberBegin(); it != chart->MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    auto field = std::find_if(kChartFields.begin(), kChartFields.end(),
                              [&](const auto& f) { return f.first == name; });
    if (field == kChartFields.end()) {
      *error = "unknown field \"chart." + std::string(name) + "\"";
      return std::nullopt;
    }
    if (!it->value.IsString()) {
      *error = "chart." + std::string(name) + " must be a string";
      return std::nullopt;
    }
    json::Set(flat, field->second, json::Value(it->value, a), a);
  }
  bool has_archive = chart->HasMember("archive");
  bool has_repo = chart->HasMember("repoURL") || chart->HasMember("name");
  if (has_archive == has_repo) {
    *error = "chart: exactly one of archive or repoURL+name is required";
    return std::nullopt;
  }
  if (has_archive) {
    if (chart->HasMember("version")) {
      *error = "chart.version applies to repository charts only";
      return std::nullopt;
    }
    // Refuse an oversized archive before decoding it: base64 is 4/3 of the
    // bytes (whitespace, which the decoder skips, is allowed some room).
    std::size_t encoded = (*chart)["archive"].GetStringLength();
    if (encoded > (max_archive_bytes / 3 + 1) * 4 * 2) {
      *error = "chart.archive is larger than " + std::to_string(max_archive_bytes) + " bytes";
      return std::nullopt;
    }
  }
  return flat;
}

// The driver's wire names for the flat fields → the wire form's, so a
// message from the driver's validation names what the sender wrote.
std::string WireMessage(std::string message) {
  static const std::vector<std::pair<std::string, std::string>> kRenames = {
      {"chart is required with", "chart.name is required with"},
      {"chartArchive", "chart.archive"},
      {"repoURL", "chart.repoURL"}};
  for (const auto& [from, to] : kRenames) {
    for (auto pos = message.find(from); pos != std::string::npos;
         pos = message.find(from, pos + to.size())) {
      message.replace(pos, from.size(), to);
    }
  }
  return message;
}

// Runs `call` with a ProcessCancel that fires as soon as `token` stops
// (the tunnel ended or the request's deadline passed), so Helm's process
// group is killed instead of outliving the request.
template <typename Call>
HelmResult RunCancellable(const CancelToken& token, Call call) {
  ProcessCancel cancel;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread watcher([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!done) {
      if (token.Stop()) {
        cancel.Cancel();
        return;
      }
      // CancelToken has no wakeup of its own: poll it; the deadline is
      // exact because the wait never passes it.
      auto next = std::min(std::chrono::steady_clock::now() + std::chrono::milliseconds(50),
                           token.deadline());
      cv.wait_until(lock, next);
    }
  });
  HelmResult result = call(&cancel);
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  watcher.join();
  return result;
}

ActionResult ToActionResult(HelmResult r, const CancelToken& token) {
  if (r.ok()) {
    // NOTES.txt is rendered from the values, which may hold credentials.
    json::Remove(r.body, "notes");
    return ActionResult::Ok(json::Dump(r.body));
  }
  using C = HelmError::Code;
  const auto& e = *r.error;
  switch (e.code) {
    case C::kInvalid:
      return ActionResult::Fail(codes::kInvalid, e.message);
    case C::kNotFound:
      return ActionResult::Fail(codes::kNotFound, e.message);
    case C::kConflict:
      return ActionResult::Fail(codes::kConflict, e.message);
    case C::kForbidden:
      return ActionResult::Fail(codes::kForbidden, e.message);
    case C::kTimeout:
      return ActionResult::Fail(codes::kTimeout, e.message);
    case C::kCancelled:
      // We cancel Helm for two reasons; the token says which.
      if (!token.Cancelled() && token.Expired()) {
        return ActionResult::Fail(codes::kTimeout,
                                  "the request's deadline passed; helm was stopped");
      }
      return ActionResult::Fail(codes::kCancelled, e.message);
    case C::kFailed:
      return ActionResult::Fail(codes::kInternal, "helm failed: " + e.message);
    case C::kInternal:
      return ActionResult::Fail(codes::kInternal, e.message);
  }
  return ActionResult::Fail(codes::kInternal, e.message);
}

// Helm's --timeout for a mutating call: the request's (or the default) cut
// to what is left of the request's deadline. nullopt: no time left.
std::optional<std::chrono::seconds> HelmTimeout(const helm::HelmConfig& config,
                                                const std::optional<std::chrono::seconds>& asked,
                                                const CancelToken& token) {
  auto left = std::chrono::duration_cast<std::chrono::seconds>(token.deadline() -
                                                               std::chrono::steady_clock::now()) -
              kDeadlineMargin;
  if (left < std::chrono::seconds(1)) return std::nullopt;
  return std::min({asked.value_or(config.default_timeout), config.max_timeout, left});
}

ActionResult NoTimeLeft() {
  return ActionResult::Fail(codes::kTimeout, "the request's deadline leaves no time to run helm");
}

ActionKind InstallKind(std::shared_ptr<HelmDriver> driver, bool upgrade) {
  ActionKind k;
  k.name = upgrade ? "helm.upgrade" : "helm.install";
  k.switch_name = "helm";
  k.parse = [driver, upgrade](const json::Value& p) -> ParseOutcome {
    std::string error;
    auto flat = FlattenInstall(p, driver->config().max_archive_bytes, &error);
    if (!flat) return error;
    helm::InstallRequest req;
    if (!helm::ParseInstall(*flat, upgrade, &req, &error)) return WireMessage(error);
    // ParseInstall bounds the archive by the default; the agent's own bound wins.
    if (req.chart.archive.size() > driver->config().max_archive_bytes) {
      return "chart.archive is " + std::to_string(req.chart.archive.size()) +
             " bytes; the limit is " + std::to_string(driver->config().max_archive_bytes);
    }
    PreparedAction a;
    a.targets = {ReleaseTarget(req.namespace_, req.release)};
    auto shared = std::make_shared<helm::InstallRequest>(std::move(req));
    a.execute = [driver, shared](const ActionRequest&, const CancelToken& token) {
      auto timeout = HelmTimeout(driver->config(), shared->timeout, token);
      if (!timeout) return NoTimeLeft();
      helm::InstallRequest req = *shared;
      req.timeout = timeout;
      return ToActionResult(
          RunCancellable(token, [&](ProcessCancel* c) { return driver->Install(req, c); }), token);
    };
    return a;
  };
  return k;
}

ActionKind RollbackKind(std::shared_ptr<HelmDriver> driver) {
  ActionKind k;
  k.name = "helm.rollback";
  k.switch_name = "helm";
  k.parse = [driver](const json::Value& p) -> ParseOutcome {
    std::string error;
    helm::RollbackRequest req;
    if (!helm::ParseRollback(WithoutRequestedBy(p), &req, &error)) return error;
    PreparedAction a;
    a.targets = {ReleaseTarget(req.namespace_, req.release)};
    a.execute = [driver, req](const ActionRequest&, const CancelToken& token) {
      auto timeout = HelmTimeout(driver->config(), req.timeout, token);
      if (!timeout) return NoTimeLeft();
      helm::RollbackRequest run = req;
      run.timeout = timeout;
      return ToActionResult(
          RunCancellable(token, [&](ProcessCancel* c) { return driver->Rollback(run, c); }), token);
    };
    return a;
  };
  return k;
}

ActionKind UninstallKind(std::shared_ptr<HelmDriver> driver) {
  ActionKind k;
  k.name = "helm.uninstall";
  k.switch_name = "helm";
  k.parse = [driver](const json::Value& p) -> ParseOutcome {
    std::string error;
    helm::UninstallRequest req;
    if (!helm::ParseUninstall(WithoutRequestedBy(p), &req, &error)) return error;
    PreparedAction a;
    a.targets = {ReleaseTarget(req.namespace_, req.release)};
    a.execute = [driver, req](const ActionRequest&, const CancelToken& token) {
      auto timeout = HelmTimeout(driver->config(), req.timeout, token);
      if (!timeout) return NoTimeLeft();
      helm::UninstallRequest run = req;
      run.timeout = timeout;
      return ToActionResult(
          RunCancellable(token, [&](ProcessCancel* c) { return driver->Uninstall(run, c); }),
          token);
    };
    return a;
  };
  return k;
}

// helm.status and helm.history share a payload shape (ParseReleaseQuery),
// but each accepts only its own optional member.
ActionKind QueryKind(std::shared_ptr<HelmDriver> driver, bool history) {
  ActionKind k;
  k.name = history ? "helm.history" : "helm.status";
  k.switch_name = "helm";
  k.parse = [driver, history](const json::Value& p) -> ParseOutcome {
    const char* other = history ? "revision" : "max";
    if (p.IsObject() && p.HasMember(other)) {
      return std::string("unknown field \"") + other + "\"";
    }
    std::string error;
    helm::ReleaseQuery req;
    if (!helm::ParseReleaseQuery(WithoutRequestedBy(p), &req, &error)) return error;
    PreparedAction a;
    a.targets = {ReleaseTarget(req.namespace_, req.release)};
    a.execute = [driver, req, history](const ActionRequest&, const CancelToken& token) {
      if (token.Stop()) return ActionResult::Fail(codes::kTimeout, "deadline passed");
      return ToActionResult(RunCancellable(token,
                                           [&](ProcessCancel* c) {
                                             return history ? driver->History(req, c)
                                                            : driver->Status(req, c);
                                           }),
                            token);
    };
    return a;
  };
  return k;
}

ActionKind ListKind(std::shared_ptr<HelmDriver> driver) {
  ActionKind k;
  k.name = "helm.list";
  k.switch_name = "helm";
  k.parse = [driver](const json::Value& p) -> ParseOutcome {
    std::string error;
    helm::ListRequest req;
    if (!helm::ParseList(WithoutRequestedBy(p), &req, &error)) return error;
    PreparedAction a;
    // The namespace listed is the object read: authorized like any target,
    // and the audit Event lands on it.
    a.targets = {Target{"v1", "Namespace", req.namespace_, req.namespace_}};
    a.execute = [driver, req](const ActionRequest&, const CancelToken& token) {
      if (token.Stop()) return ActionResult::Fail(codes::kTimeout, "deadline passed");
      return ToActionResult(
          RunCancellable(token, [&](ProcessCancel* c) { return driver->List(req, c); }), token);
    };
    return a;
  };
  return k;
}

}  // namespace

std::vector<ActionKind> HelmActionKinds(helm::HelmConfig config) {
  auto driver = std::make_shared<HelmDriver>(std::move(config));
  return {InstallKind(driver, false),
          InstallKind(driver, true),
          RollbackKind(driver),
          UninstallKind(driver),
          QueryKind(driver, false),
          QueryKind(driver, true),
          ListKind(driver)};
}

}  // namespace srexpert::actions
