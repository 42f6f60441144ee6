#include "kube/exec_credential.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/base64.h"
#include "common/json.h"
#include "common/time_format.h"

extern char** environ;

namespace srexpert::kube {

namespace {

constexpr size_t kMaxOutput = 1 << 20;

Error Fail(const ExecPluginConfig& c, const std::string& what) {
  return Error(Reason::kConfig, fmt::format("{}: exec plugin \"{}\": {}", c.source, c.command, what));
}

// Closes a file descriptor on every path out of RunExecPlugin.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits for `pid` until `deadline`; kills it when the deadline passes.
// Returns the wait status, or nullopt when it had to be killed.
std::optional<int> Reap(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return status;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return std::nullopt;
    }
    ::usleep(2000);
  }
}

}  // namespace

std::string ExecInfoJson(const ExecPluginConfig& c) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "apiVersion", c.api_version, a);
  json::SetString(d, "kind", "ExecCredential", a);
  json::Value spec(rapidjson::kObjectType);
  json::Set(spec, "interactive", json::Value(false), a);
  if (c.provide_cluster_info) {
    json::Value cluster(rapidjson::kObjectType);
    json::SetString(cluster, "server", c.cluster_server, a);
    if (!c.cluster_ca_pem.empty()) {
      json::SetString(cluster, "certificate-authority-data", base64::Encode(c.cluster_ca_pem), a);
    }
    if (c.cluster_insecure) json::Set(cluster, "insecure-skip-tls-verify", json::Value(true), a);
    json::Set(spec, "cluster", std::move(cluster), a);
  }
  json::Set(d, "spec", std::move(spec), a);
  return json::Dump(d);
}

Result<ExecCredential> ParseExecCredential(const ExecPluginConfig& c, std::string_view out) {
  std::string why;
  auto doc = json::Parse(out, &why);
  if (!doc || !doc->IsObject()) {
    return Fail(c, "its output is not an ExecCredential JSON object" +
                       (why.empty() ? std::string() : ": " + why));
  }
  if (json::GetString(*doc, {"kind"}) != "ExecCredential") {
    return Fail(c, "its output has kind \"" + json::GetString(*doc, {"kind"}) +
                       "\", want ExecCredential");
  }
  if (json::GetString(*doc, {"apiVersion"}) != c.api_version) {
    return Fail(c, fmt::format("its output has apiVersion \"{}\", but the kubeconfig asks for \"{}\"",
                               json::GetString(*doc, {"apiVersion"}), c.api_version));
  }
  const json::Value* status = json::Find(*doc, {"status"});
  if (!status || !status->IsObject()) return Fail(c, "its output has no status");
  ExecCredential cred;
  cred.token = json::GetString(*status, {"token"});
  if (cred.token.empty()) {
    if (json::Find(*status, {"clientCertificateData"})) {
      return Fail(c, "it returned a client certificate; this client supports token credentials "
                     "only (use a plugin mode that prints a token)");
    }
    return Fail(c, "its output has no status.token");
  }
  if (const json::Value* exp = json::Find(*status, {"expirationTimestamp"});
      exp && !exp->IsNull()) {
    auto t = exp->IsString() ? ParseRfc3339(exp->GetString()) : std::nullopt;
    if (!t) return Fail(c, "status.expirationTimestamp is not an RFC 3339 time");
    cred.expiry = *t;
  }
  return cred;
}

Result<ExecCredential> RunExecPlugin(const ExecPluginConfig& c) {
  // argv and envp: ours plus the plugin's env (which wins) and the exec info.
  std::vector<std::string> args{c.command};
  args.insert(args.end(), c.args.begin(), c.args.end());
  std::vector<std::string> env;
  auto overridden = [&](std::string_view entry) {
    auto eq = entry.find('=');
    std::string_view name = entry.substr(0, eq);
    if (name == "KUBERNETES_EXEC_INFO") return true;
    for (const auto& [n, v] : c.env) {
      if (n == name) return true;
    }
    return false;
  };
  for (char** e = environ; e && *e; ++e) {
    if (!overridden(*e)) env.emplace_back(*e);
  }
  for (const auto& [n, v] : c.env) env.push_back(n + "=" + v);
  env.push_back("KUBERNETES_EXEC_INFO=" + ExecInfoJson(c));
  std::vector<char*> argv, envp;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Fail(c, std::string("pipe: ") + std::strerror(errno));
  Fd read_end{fds[0]}, write_end{fds[1]};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, 1);
  pid_t pid = 0;
  // posix_spawnp looks the command up in our PATH, as kubectl does.
  int rc = ::posix_spawnp(&pid, c.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::string what = fmt::format("cannot run it: {}", std::strerror(rc));
    if (!c.install_hint.empty()) what += "; " + c.install_hint;
    return Fail(c, what);
  }
  ::close(write_end.fd);
  write_end.fd = -1;

  const auto deadline = std::chrono::steady_clock::now() + c.timeout;
  std::string out;
  bool too_long = false, timed_out = false;
  char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{read_end.fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    ssize_t got = ::read(read_end.fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (out.size() + static_cast<size_t>(got) > kMaxOutput) {
      too_long = true;
      break;
    }
    out.append(buf, static_cast<size_t>(got));
  }
  if (too_long || timed_out) ::kill(pid, SIGKILL);
  auto status = Reap(pid, timed_out ? std::chrono::steady_clock::now() : deadline);
  if (timed_out || !status) {
    return Fail(c, fmt::format("no answer within {} s; killed", c.timeout.count()));
  }
  if (too_long) return Fail(c, "it wrote more than 1 MiB; killed");
  if (WIFSIGNALED(*status)) {
    return Fail(c, fmt::format("killed by signal {}", WTERMSIG(*status)));
  }
  if (WEXITSTATUS(*status) != 0) {
    // 127 is the shell's "not found", kept for wrapper scripts.
    std::string what = fmt::format("exited with status {} (its stderr is above)", WEXITSTATUS(*status));
    if (WEXITSTATUS(*status) == 127 && !c.install_hint.empty()) what += "; " + c.install_hint;
    return Fail(c, what);
  }
  return ParseExecCredential(c, out);
}

}  // namespace srexpert::kube
