#include "actions/helm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>
#include <set>

#include "common/base64.h"
#include "common/log.h"

namespace srexpert::actions::helm {
namespace {

namespace fs = std::filesystem;
using Code = HelmError::Code;

// Queries (list/status/history) have no Helm --timeout; this bounds them.
constexpr std::chrono::seconds kQueryTimeout{120};
constexpr std::size_t kMaxErrorMessage = 2000;

bool Fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

// Payload readers: unknown members are refused, so a misspelt "dryrun" can
// never silently turn a dry run into a real one.
bool CheckMembers(const json::Value& payload, std::initializer_list<std::string_view> allowed,
                  std::string* error) {
  if (!payload.IsObject()) return Fail(error, "payload must be a JSON object");
  for (auto it = payload.MemberBegin(); it != payload.MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return Fail(error, "unknown field \"" + std::string(name) + "\"");
    }
  }
  return true;
}

bool ReadString(const json::Value& payload, const char* key, bool required, std::string* out,
                std::string* error) {
  auto it = payload.FindMember(key);
  if (it == payload.MemberEnd()) {
    return required ? Fail(error, std::string(key) + " is required") : true;
  }
  if (!it->value.IsString()) return Fail(error, std::string(key) + " must be a string");
  out->assign(it->value.GetString(), it->value.GetStringLength());
  if (required && out->empty()) return Fail(error, std::string(key) + " is required");
  return true;
}

bool ReadBool(const json::Value& payload, const char* key, bool* out, std::string* error) {
  auto it = payload.FindMember(key);
  if (it == payload.MemberEnd()) return true;
  if (!it->value.IsBool()) return Fail(error, std::string(key) + " must be a boolean");
  *out = it->value.GetBool();
  return true;
}

bool ReadInt(const json::Value& payload, const char* key, int lo, int hi, int* out,
             std::string* error) {
  auto it = payload.FindMember(key);
  if (it == payload.MemberEnd()) return true;
  if (!it->value.IsInt64() || it->value.GetInt64() < lo || it->value.GetInt64() > hi) {
    return Fail(error, std::string(key) + " must be an integer from " + std::to_string(lo) +
                           " to " + std::to_string(hi));
  }
  *out = static_cast<int>(it->value.GetInt64());
  return true;
}

bool ReadTimeout(const json::Value& payload, std::optional<std::chrono::seconds>* out,
                 std::string* error) {
  int seconds = 0;
  if (!ReadInt(payload, "timeoutSeconds", 1, 86400, &seconds, error)) return false;
  if (seconds > 0) *out = std::chrono::seconds(seconds);
  return true;
}

bool ReadRelease(const json::Value& payload, std::string* release, std::string* ns,
                 std::string* error) {
  if (!ReadString(payload, "release", true, release, error) ||
      !ReadString(payload, "namespace", true, ns, error)) {
    return false;
  }
  if (auto bad = ValidateReleaseName(*release)) return Fail(error, *bad);
  if (auto bad = ValidateNamespace(*ns)) return Fail(error, *bad);
  return true;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A private directory for one request's chart archive and values; removed
// with everything in it when the request ends, whatever the outcome.
class RequestDir {
 public:
  explicit RequestDir(const std::string& parent) {
    std::string tmpl = parent + "/req-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr)
      path_ = tmpl;  // mkdtemp: mode 0700
    else
      error_ = std::strerror(errno);
  }
  ~RequestDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec)
      log::Warn("helm: request directory not removed", {{"path", path_}, {"error", ec.message()}});
  }
  RequestDir(const RequestDir&) = delete;
  RequestDir& operator=(const RequestDir&) = delete;
  const std::string& path() const { return path_; }
  const std::string& error() const { return error_; }

  // Writes a 0600 file; false + *error on failure.
  bool Write(const std::string& name, std::string_view data, std::string* error) {
    std::string file = path_ + "/" + name;
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Fail(error, "create " + file + ": " + std::strerror(errno));
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return Fail(error, "write " + file + ": " + why);
      }
      off += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) return Fail(error, "close " + file + ": " + std::strerror(errno));
    return true;
  }

 private:
  std::string path_;
  std::string error_;
};

HelmResult Error(Code code, std::string message) {
  HelmResult r;
  r.error = HelmError{code, std::move(message)};
  return r;
}

HelmResult Body(json::Document body) {
  HelmResult r;
  r.body = std::move(body);
  return r;
}

std::string Seconds(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }

}  // namespace

const char* ErrorCodeName(HelmError::Code code) {
  switch (code) {
    case Code::kInvalid:
      return "invalid";
    case Code::kNotFound:
      return "notFound";
    case Code::kConflict:
      return "conflict";
    case Code::kForbidden:
      return "forbidden";
    case Code::kTimeout:
      return "timeout";
    case Code::kCancelled:
      return "cancelled";
    case Code::kFailed:
      return "failed";
    case Code::kInternal:
      return "internal";
  }
  return "failed";
}

// --- validation -------------------------------------------------------------------

std::optional<std::string> ValidateReleaseName(std::string_view name) {
  // Helm's own rule (pkg/chart/v2/util.ValidateReleaseName): a DNS-1123
  // subdomain of at most 53 characters, so that "<release>-<suffix>" object
  // names and the release Secret name "sh.helm.release.v1.<name>.v<N>" fit.
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  if (name.empty()) return "release name is required";
  if (name.size() > 53)
    return "release name \"" + std::string(name) + "\" is longer than 53 characters";
  if (!std::regex_match(name.begin(), name.end(), re)) {
    return "release name \"" + std::string(name) +
           "\" is invalid: lower-case letters, digits, '-' and '.', starting and ending with a "
           "letter or digit";
  }
  return std::nullopt;
}

std::optional<std::string> ValidateNamespace(std::string_view ns) {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  if (ns.empty()) return "namespace is required";
  if (ns.size() > 63 || !std::regex_match(ns.begin(), ns.end(), re)) {
    return "namespace \"" + std::string(ns) + "\" is not a valid DNS-1123 label";
  }
  return std::nullopt;
}

std::optional<std::string> ValidateChartSource(const ChartSource& chart, std::size_t max_archive) {
  bool has_archive = !chart.archive.empty();
  bool has_repo = !chart.repo_url.empty() || !chart.chart.empty();
  if (has_archive == has_repo) {
    return std::string("exactly one of chartArchive or repoURL+chart is required");
  }
  if (has_archive) {
    if (chart.archive.size() > max_archive) {
      return "chartArchive is " + std::to_string(chart.archive.size()) + " bytes; the limit is " +
             std::to_string(max_archive);
    }
    if (chart.archive.size() < 2 || static_cast<unsigned char>(chart.archive[0]) != 0x1f ||
        static_cast<unsigned char>(chart.archive[1]) != 0x8b) {
      return std::string("chartArchive is not a gzip-compressed chart (.tgz)");
    }
    if (!chart.version.empty()) return std::string("version applies to repository charts only");
    return std::nullopt;
  }
  // Only remote repositories: a path or file:// would let a request read the
  // agent's own files as a chart.
  static const std::regex url(
      "^(https?|oci)://[A-Za-z0-9.\\-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/+\\-]*)?$");
  if (chart.repo_url.empty()) return std::string("repoURL is required with chart");
  if (chart.repo_url.size() > 2048 || !std::regex_match(chart.repo_url, url)) {
    // Not echoed: a refused URL may carry credentials, and refusals are logged.
    return std::string(
        "repoURL must be an http://, https:// or oci:// URL without credentials, query or "
        "fragment");
  }
  static const std::regex name("^[A-Za-z0-9][A-Za-z0-9._\\-]{0,252}$");
  if (chart.chart.empty()) return std::string("chart is required with repoURL");
  if (!std::regex_match(chart.chart, name)) {
    return "chart \"" + chart.chart + "\" must be a chart name (letters, digits, '.', '_', '-')";
  }
  static const std::regex version("^v?[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.+\\-]*)?$");
  if (!chart.version.empty() &&
      (chart.version.size() > 128 || !std::regex_match(chart.version, version))) {
    return "version \"" + chart.version + "\" must be an exact semantic version (1.2.3)";
  }
  return std::nullopt;
}

// --- payload parsers ----------------------------------------------------------------

bool ParseInstall(const json::Value& payload, bool upgrade, InstallRequest* out,
                  std::string* error) {
  if (!CheckMembers(payload,
                    {"release", "namespace", "chartArchive", "repoURL", "chart", "version",
                     "values", "dryRun", "wait", "atomic", "timeoutSeconds"},
                    error)) {
    return false;
  }
  out->upgrade = upgrade;
  if (!ReadRelease(payload, &out->release, &out->namespace_, error)) return false;
  std::string archive_b64;
  if (!ReadString(payload, "chartArchive", false, &archive_b64, error) ||
      !ReadString(payload, "repoURL", false, &out->chart.repo_url, error) ||
      !ReadString(payload, "chart", false, &out->chart.chart, error) ||
      !ReadString(payload, "version", false, &out->chart.version, error) ||
      !ReadBool(payload, "dryRun", &out->dry_run, error) ||
      !ReadBool(payload, "wait", &out->wait, error) ||
      !ReadBool(payload, "atomic", &out->atomic, error) ||
      !ReadTimeout(payload, &out->timeout, error)) {
    return false;
  }
  if (!archive_b64.empty()) {
    auto decoded = base64::Decode(archive_b64);
    if (!decoded) return Fail(error, "chartArchive is not valid base64");
    out->chart.archive = std::move(*decoded);
  }
  if (auto bad = ValidateChartSource(out->chart, HelmConfig{}.max_archive_bytes)) {
    return Fail(error, *bad);
  }
  auto values = payload.FindMember("values");
  if (values != payload.MemberEnd()) {
    if (!values->value.IsObject()) return Fail(error, "values must be a JSON object");
    out->values_json = json::Dump(values->value);
  }
  return true;
}

bool ParseRollback(const json::Value& payload, RollbackRequest* out, std::string* error) {
  return CheckMembers(payload,
                      {"release", "namespace", "revision", "dryRun", "wait", "timeoutSeconds"},
                      error) &&
         ReadRelease(payload, &out->release, &out->namespace_, error) &&
         ReadInt(payload, "revision", 1, 1 << 30, &out->revision, error) &&
         ReadBool(payload, "dryRun", &out->dry_run, error) &&
         ReadBool(payload, "wait", &out->wait, error) && ReadTimeout(payload, &out->timeout, error);
}

bool ParseUninstall(const json::Value& payload, UninstallRequest* out, std::string* error) {
  return CheckMembers(payload,
                      {"release", "namespace", "dryRun", "keepHistory", "wait", "timeoutSeconds"},
                      error) &&
         ReadRelease(payload, &out->release, &out->namespace_, error) &&
         ReadBool(payload, "dryRun", &out->dry_run, error) &&
         ReadBool(payload, "keepHistory", &out->keep_history, error) &&
         ReadBool(payload, "wait", &out->wait, error) && ReadTimeout(payload, &out->timeout, error);
}

bool ParseReleaseQuery(const json::Value& payload, ReleaseQuery* out, std::string* error) {
  return CheckMembers(payload, {"release", "namespace", "revision", "max"}, error) &&
         ReadRelease(payload, &out->release, &out->namespace_, error) &&
         ReadInt(payload, "revision", 1, 1 << 30, &out->revision, error) &&
         ReadInt(payload, "max", 1, 1000, &out->max, error);
}

bool ParseList(const json::Value& payload, ListRequest* out, std::string* error) {
  if (!CheckMembers(payload, {"namespace"}, error) ||
      !ReadString(payload, "namespace", true, &out->namespace_, error)) {
    return false;
  }
  if (auto bad = ValidateNamespace(out->namespace_)) return Fail(error, *bad);
  return true;
}

// --- Helm's outputs ----------------------------------------------------------------------

bool ReleaseSummaryFromHelm(std::string_view helm_json, json::Document* out, std::string* error) {
  std::string parse_error;
  auto doc = json::Parse(helm_json, &parse_error);
  if (!doc || !doc->IsObject()) return Fail(error, "helm printed no release JSON: " + parse_error);
  const json::Value& rel = *doc;
  json::Document body;
  body.SetObject();
  auto& a = body.GetAllocator();
  json::SetString(body, "name", json::GetString(rel, {"name"}), a);
  json::SetString(body, "namespace", json::GetString(rel, {"namespace"}), a);
  json::Set(body, "revision", json::Value(json::GetInt(rel, {"version"})), a);
  json::SetString(body, "status", json::GetString(rel, {"info", "status"}), a);
  json::SetString(body, "description", json::GetString(rel, {"info", "description"}), a);
  json::SetString(body, "firstDeployed", json::GetString(rel, {"info", "first_deployed"}), a);
  json::SetString(body, "lastDeployed", json::GetString(rel, {"info", "last_deployed"}), a);
  json::SetString(body, "notes", json::GetString(rel, {"info", "notes"}), a);
  // install/upgrade print the chart; Helm 4's status does not (Status adds
  // it from `helm get metadata`).
  if (json::Find(rel, {"chart", "metadata"}) != nullptr) {
    json::Value chart(rapidjson::kObjectType);
    json::SetString(chart, "name", json::GetString(rel, {"chart", "metadata", "name"}), a);
    json::SetString(chart, "version", json::GetString(rel, {"chart", "metadata", "version"}), a);
    json::SetString(chart, "appVersion", json::GetString(rel, {"chart", "metadata", "appVersion"}),
                    a);
    json::Set(body, "chart", std::move(chart), a);
  }
  if (json::GetString(rel, {"name"}).empty()) return Fail(error, "helm's release JSON has no name");
  *out = std::move(body);
  return true;
}

bool AddChartFromMetadata(std::string_view metadata_json, json::Document* body,
                          std::string* error) {
  auto meta = json::Parse(metadata_json);
  if (!meta || !meta->IsObject() || json::GetString(*meta, {"chart"}).empty()) {
    return Fail(error, "helm get metadata printed no chart");
  }
  auto& a = body->GetAllocator();
  json::Value chart(rapidjson::kObjectType);
  json::SetString(chart, "name", json::GetString(*meta, {"chart"}), a);
  json::SetString(chart, "version", json::GetString(*meta, {"version"}), a);
  json::SetString(chart, "appVersion", json::GetString(*meta, {"appVersion"}), a);
  json::Set(*body, "chart", std::move(chart), a);
  return true;
}

bool ListFromHelm(std::string_view helm_json, json::Document* out, std::string* error) {
  std::string parse_error;
  auto doc = json::Parse(helm_json, &parse_error);
  if (!doc || !doc->IsArray())
    return Fail(error, "helm list printed no JSON array: " + parse_error);
  json::Document body;
  body.SetObject();
  auto& a = body.GetAllocator();
  json::Value releases(rapidjson::kArrayType);
  for (const auto& r : doc->GetArray()) {
    if (!r.IsObject()) continue;
    json::Value item(rapidjson::kObjectType);
    json::SetString(item, "name", json::GetString(r, {"name"}), a);
    json::SetString(item, "namespace", json::GetString(r, {"namespace"}), a);
    // helm list prints the revision as a string ("3"), history as a number.
    std::string rev = json::GetString(r, {"revision"});
    int64_t revision =
        rev.empty() ? json::GetInt(r, {"revision"}) : std::strtoll(rev.c_str(), nullptr, 10);
    json::Set(item, "revision", json::Value(revision), a);
    json::SetString(item, "updated", json::GetString(r, {"updated"}), a);
    json::SetString(item, "status", json::GetString(r, {"status"}), a);
    json::SetString(item, "chart", json::GetString(r, {"chart"}), a);
    json::SetString(item, "appVersion", json::GetString(r, {"app_version"}), a);
    releases.PushBack(item, a);
  }
  json::Set(body, "releases", std::move(releases), a);
  *out = std::move(body);
  return true;
}

bool HistoryFromHelm(std::string_view helm_json, json::Document* out, std::string* error) {
  std::string parse_error;
  auto doc = json::Parse(helm_json, &parse_error);
  if (!doc || !doc->IsArray()) {
    return Fail(error, "helm history printed no JSON array: " + parse_error);
  }
  json::Document body;
  body.SetObject();
  auto& a = body.GetAllocator();
  json::Value revisions(rapidjson::kArrayType);
  for (const auto& r : doc->GetArray()) {
    if (!r.IsObject()) continue;
    json::Value item(rapidjson::kObjectType);
    json::Set(item, "revision", json::Value(json::GetInt(r, {"revision"})), a);
    json::SetString(item, "updated", json::GetString(r, {"updated"}), a);
    json::SetString(item, "status", json::GetString(r, {"status"}), a);
    json::SetString(item, "chart", json::GetString(r, {"chart"}), a);
    json::SetString(item, "appVersion", json::GetString(r, {"app_version"}), a);
    json::SetString(item, "description", json::GetString(r, {"description"}), a);
    revisions.PushBack(item, a);
  }
  json::Set(body, "revisions", std::move(revisions), a);
  *out = std::move(body);
  return true;
}

HelmError ClassifyFailure(const ProcessResult& r) {
  using O = ProcessResult::Outcome;
  switch (r.outcome) {
    case O::kSpawnFailed:
      return {Code::kInternal, "could not run helm: " + r.error};
    case O::kTimedOut:
      return {Code::kTimeout, "helm did not finish within " +
                                  std::to_string(r.duration.count() / 1000) + "s and was stopped"};
    case O::kCancelled:
      return {Code::kCancelled, "helm was stopped: the request was cancelled"};
    case O::kSignaled:
      return {Code::kFailed, "helm was killed by signal " + std::to_string(r.term_signal)};
    case O::kExited:
      break;
  }
  std::string message = Trimmed(r.err);
  if (message.empty()) message = "helm exited with code " + std::to_string(r.exit_code);
  if (message.size() > kMaxErrorMessage) message = message.substr(0, kMaxErrorMessage) + "...";
  std::string lower = message;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  Code code = Code::kFailed;
  if (lower.find("release: not found") != std::string::npos ||
      lower.find("has no deployed releases") != std::string::npos) {
    code = Code::kNotFound;
  } else if (lower.find("cannot re-use a name that is still in use") !=
                 std::string::npos ||  // Helm 3
             lower.find("cannot reuse a name that is still in use") !=
                 std::string::npos ||  // Helm 4
             lower.find("another operation (install/upgrade/rollback) is in progress") !=
                 std::string::npos) {
    code = Code::kConflict;
  } else if (lower.find(" is forbidden") != std::string::npos ||
             lower.find("forbidden:") != std::string::npos) {
    code = Code::kForbidden;
  } else if (lower.find("context deadline exceeded") != std::string::npos ||
             lower.find("timed out waiting") != std::string::npos) {
    code = Code::kTimeout;
  }
  return {code, message};
}

// --- the driver --------------------------------------------------------------------------

HelmDriver::HelmDriver(HelmConfig config) : config_(std::move(config)) {
  // Helm's own state lives under home (in the pod: a memory-backed emptyDir;
  // the root filesystem is read-only). TMPDIR too: chart downloads unpack there.
  // No home (Helm actions switched off): nothing is created; a request
  // then fails as `internal` instead of writing to "/cache".
  if (!config_.home.empty()) {
    for (const char* sub : {"", "/cache", "/config", "/data", "/tmp"}) {
      ::mkdir((config_.home + sub).c_str(), 0700);
    }
  }
  env_ = {"HOME=" + config_.home, "HELM_CACHE_HOME=" + config_.home + "/cache",
          "HELM_CONFIG_HOME=" + config_.home + "/config",
          "HELM_DATA_HOME=" + config_.home + "/data", "TMPDIR=" + config_.home + "/tmp",
          // Helm's default, stated so nothing can change it: releases are
          // Secrets any `helm` with default settings reads.
          "HELM_DRIVER=secret"};
  std::set<std::string> seen;
  if (!config_.proxy_url.empty()) {
    std::string no_proxy;
    for (const auto& host : config_.no_proxy) no_proxy += (no_proxy.empty() ? "" : ",") + host;
    if (const char* api = std::getenv("KUBERNETES_SERVICE_HOST"); api && *api) {
      no_proxy += (no_proxy.empty() ? "" : ",") + std::string(api);
    }
    for (const char* name : {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"}) {
      env_.push_back(std::string(name) + "=" + config_.proxy_url);
      seen.insert(name);
    }
    for (const char* name : {"NO_PROXY", "no_proxy"}) {
      env_.push_back(std::string(name) + "=" + no_proxy);
      seen.insert(name);
    }
  }
  for (const auto& name : config_.passthrough_env) {
    if (!seen.insert(name).second) continue;
    if (const char* v = std::getenv(name.c_str())) env_.push_back(name + "=" + v);
  }
}

std::chrono::seconds HelmDriver::HelmTimeout(const std::optional<std::chrono::seconds>& req) const {
  auto t = req.value_or(config_.default_timeout);
  return std::min(t, config_.max_timeout);
}

ProcessResult HelmDriver::Run(std::vector<std::string> args, std::chrono::seconds hard_timeout,
                              ProcessCancel* cancel) {
  const std::string command = args.empty() ? std::string() : args[0];
  ProcessSpec spec;
  spec.argv.push_back(config_.binary);
  for (auto& a : args) spec.argv.push_back(std::move(a));
  if (!config_.kubeconfig.empty()) {
    spec.argv.push_back("--kubeconfig");
    spec.argv.push_back(config_.kubeconfig);
  }
  spec.env = env_;
  spec.working_dir = config_.home;
  spec.timeout = hard_timeout;
  spec.kill_grace = std::chrono::seconds(5);  // Helm releases its storage lock on SIGTERM
  spec.max_stdout_bytes = config_.max_output_bytes;
  spec.max_stderr_bytes = 64 << 10;
  auto r = RunProcess(spec, cancel);
  log::Info("helm ran", {{"command", command},
                         {"outcome", OutcomeName(r.outcome)},
                         {"exitCode", r.exit_code},
                         {"durationMs", static_cast<int64_t>(r.duration.count())}});
  return r;
}

HelmResult HelmDriver::Install(const InstallRequest& req, ProcessCancel* cancel) {
  if (auto bad = ValidateReleaseName(req.release)) return Error(Code::kInvalid, *bad);
  if (auto bad = ValidateNamespace(req.namespace_)) return Error(Code::kInvalid, *bad);
  if (auto bad = ValidateChartSource(req.chart, config_.max_archive_bytes)) {
    return Error(Code::kInvalid, *bad);
  }
  std::string values_error;
  auto values = json::Parse(req.values_json, &values_error);
  if (!values || !values->IsObject()) return Error(Code::kInvalid, "values must be a JSON object");

  RequestDir dir(config_.home + "/tmp");
  if (dir.path().empty()) return Error(Code::kInternal, "no request directory: " + dir.error());
  std::string io_error;
  // JSON is YAML: Helm reads the object as a values file (never --set, which
  // would put the values, often credentials, on a command line).
  if (!dir.Write("values.json", req.values_json, &io_error))
    return Error(Code::kInternal, io_error);

  std::vector<std::string> args;
  if (req.upgrade)
    args = {"upgrade", "--install", req.release};
  else
    args = {"install", req.release};
  if (!req.chart.archive.empty()) {
    if (!dir.Write("chart.tgz", req.chart.archive, &io_error))
      return Error(Code::kInternal, io_error);
    args.push_back(dir.path() + "/chart.tgz");
  } else if (req.chart.repo_url.rfind("oci://", 0) == 0) {
    args.push_back(req.chart.repo_url + "/" + req.chart.chart);
  } else {
    args.push_back(req.chart.chart);
    args.push_back("--repo");
    args.push_back(req.chart.repo_url);
  }
  if (!req.chart.version.empty()) args.insert(args.end(), {"--version", req.chart.version});
  if (req.chart.archive.empty() && !config_.ca_file.empty()) {
    args.insert(args.end(), {"--ca-file", config_.ca_file});
  }
  auto timeout = HelmTimeout(req.timeout);
  args.insert(args.end(), {"--namespace", req.namespace_, "--values", dir.path() + "/values.json",
                           "--output", "json", "--timeout", Seconds(timeout)});
  if (req.wait) args.push_back("--wait=watcher");
  if (req.atomic) args.push_back("--rollback-on-failure");
  if (req.dry_run) args.insert(args.end(), {"--dry-run=server", "--hide-secret"});

  auto r = Run(std::move(args), timeout + config_.process_slack, cancel);
  if (!r.ok()) {
    auto e = ClassifyFailure(r);
    return Error(e.code, e.message);
  }
  json::Document body;
  std::string parse_error;
  if (!ReleaseSummaryFromHelm(r.out, &body, &parse_error)) return Error(Code::kFailed, parse_error);
  json::Set(body, "dryRun", json::Value(req.dry_run), body.GetAllocator());
  if (req.dry_run) {
    // What would be applied, Secrets already hidden by --hide-secret.
    if (auto rel = json::Parse(r.out)) {
      json::SetString(body, "manifest", json::GetString(*rel, {"manifest"}), body.GetAllocator());
    }
  }
  return Body(std::move(body));
}

HelmResult HelmDriver::Rollback(const RollbackRequest& req, ProcessCancel* cancel) {
  if (auto bad = ValidateReleaseName(req.release)) return Error(Code::kInvalid, *bad);
  if (auto bad = ValidateNamespace(req.namespace_)) return Error(Code::kInvalid, *bad);
  auto timeout = HelmTimeout(req.timeout);
  std::vector<std::string> args = {"rollback", req.release};
  if (req.revision > 0) args.push_back(std::to_string(req.revision));
  args.insert(args.end(), {"--namespace", req.namespace_, "--timeout", Seconds(timeout)});
  if (req.wait) args.push_back("--wait=watcher");
  if (req.dry_run) args.push_back("--dry-run=server");
  auto r = Run(std::move(args), timeout + config_.process_slack, cancel);
  if (!r.ok()) {
    auto e = ClassifyFailure(r);
    return Error(e.code, e.message);
  }
  if (req.dry_run) {
    json::Document body;
    body.SetObject();
    auto& a = body.GetAllocator();
    json::SetString(body, "name", req.release, a);
    json::SetString(body, "namespace", req.namespace_, a);
    json::Set(body, "dryRun", json::Value(true), a);
    return Body(std::move(body));
  }
  // helm rollback prints no JSON; the release as it now stands is the answer.
  auto status = Status(ReleaseQuery{req.release, req.namespace_, 0, 0}, cancel);
  if (status.ok()) json::Set(status.body, "dryRun", json::Value(false), status.body.GetAllocator());
  return status;
}

HelmResult HelmDriver::RunQuery(std::string_view release, std::string_view ns,
                                std::vector<std::string> args, std::chrono::seconds hard_timeout,
                                const OutputParser& parse, ProcessCancel* cancel) {
  if (!release.empty()) {
    if (auto bad = ValidateReleaseName(release)) return Error(Code::kInvalid, *bad);
  }
  if (auto bad = ValidateNamespace(ns)) return Error(Code::kInvalid, *bad);
  auto r = Run(std::move(args), hard_timeout, cancel);
  if (!r.ok()) {
    auto e = ClassifyFailure(r);
    return Error(e.code, e.message);
  }
  json::Document body;
  std::string parse_error;
  if (!parse(r, &body, &parse_error)) return Error(Code::kFailed, parse_error);
  return Body(std::move(body));
}

HelmResult HelmDriver::Uninstall(const UninstallRequest& req, ProcessCancel* cancel) {
  // An empty release would skip RunQuery's release check: refuse it here.
  if (auto bad = ValidateReleaseName(req.release)) return Error(Code::kInvalid, *bad);
  auto timeout = HelmTimeout(req.timeout);
  std::vector<std::string> args = {"uninstall",    req.release, "--namespace",
                                   req.namespace_, "--timeout", Seconds(timeout)};
  if (req.keep_history) args.push_back("--keep-history");
  if (req.wait) args.push_back("--wait=watcher");
  if (req.dry_run) args.push_back("--dry-run");
  return RunQuery(
      req.release, req.namespace_, std::move(args), timeout + config_.process_slack,
      [&req](const ProcessResult&, json::Document* body, std::string*) {
        body->SetObject();
        auto& a = body->GetAllocator();
        json::SetString(*body, "name", req.release, a);
        json::SetString(*body, "namespace", req.namespace_, a);
        json::Set(*body, "uninstalled", json::Value(!req.dry_run), a);
        json::Set(*body, "dryRun", json::Value(req.dry_run), a);
        return true;
      },
      cancel);
}

HelmResult HelmDriver::Status(const ReleaseQuery& req, ProcessCancel* cancel) {
  if (auto bad = ValidateReleaseName(req.release)) return Error(Code::kInvalid, *bad);
  std::vector<std::string> args = {"status",       req.release, "--namespace",
                                   req.namespace_, "--output",  "json"};
  if (req.revision > 0) args.insert(args.end(), {"--revision", std::to_string(req.revision)});
  auto status = RunQuery(
      req.release, req.namespace_, std::move(args), kQueryTimeout,
      [](const ProcessResult& r, json::Document* body, std::string* error) {
        return ReleaseSummaryFromHelm(r.out, body, error);
      },
      cancel);
  if (!status.ok()) return status;
  std::vector<std::string> meta_args = {"get",          "metadata", req.release, "--namespace",
                                        req.namespace_, "--output", "json"};
  if (req.revision > 0)
    meta_args.insert(meta_args.end(), {"--revision", std::to_string(req.revision)});
  auto meta = RunQuery(
      req.release, req.namespace_, std::move(meta_args), kQueryTimeout,
      [&status](const ProcessResult& r, json::Document*, std::string* error) {
        return AddChartFromMetadata(r.out, &status.body, error);
      },
      cancel);
  if (!meta.ok()) return meta;
  return status;
}

HelmResult HelmDriver::History(const ReleaseQuery& req, ProcessCancel* cancel) {
  if (auto bad = ValidateReleaseName(req.release)) return Error(Code::kInvalid, *bad);
  std::vector<std::string> args = {"history",      req.release, "--namespace",
                                   req.namespace_, "--output",  "json"};
  if (req.max > 0) args.insert(args.end(), {"--max", std::to_string(req.max)});
  return RunQuery(
      req.release, req.namespace_, std::move(args), kQueryTimeout,
      [](const ProcessResult& r, json::Document* body, std::string* error) {
        return HistoryFromHelm(r.out, body, error);
      },
      cancel);
}

HelmResult HelmDriver::List(const ListRequest& req, ProcessCancel* cancel) {
  std::vector<std::string> args = {"list", "--namespace", req.namespace_, "--output",
                                   "json", "--max",       "1000"};
  return RunQuery(
      "", req.namespace_, std::move(args), kQueryTimeout,
      [](const ProcessResult& r, json::Document* body, std::string* error) {
        // A cut list would silently hide releases: an error, not a partial list.
        if (r.out_truncated) return Fail(error, "helm list output exceeded the output limit");
        return ListFromHelm(r.out, body, error);
      },
      cancel);
}

}  // namespace srexpert::actions::helm
