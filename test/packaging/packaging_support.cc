#include "test/packaging/packaging_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace srexpert::packaging {

namespace fs = std::filesystem;

std::string CommandResult::Describe() const {
  std::string text = "exit " + std::to_string(exit_code);
  if (!err.empty()) text += ", stderr: " + err;
  if (!out.empty()) text += ", stdout: " + out.substr(0, 4000);
  return text;
}

namespace {

void CloseIfOpen(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

CommandResult Run(const std::vector<std::string>& argv, const std::string& input,
                  const std::map<std::string, std::string>& env) {
  if (argv.empty()) throw std::runtime_error("Run: empty command");
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("Run: pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw std::runtime_error("Run: cannot start " + argv[0] + ": " + std::strerror(rc));
  }

  CommandResult result;
  int in_fd = in_pipe[1], out_fd = out_pipe[0], err_fd = err_pipe[0];
  size_t written = 0;
  if (input.empty()) CloseIfOpen(in_fd);
  // The child may fill one pipe while waiting on another: poll all three.
  signal(SIGPIPE, SIG_IGN);
  while (in_fd >= 0 || out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (::poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = ::write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 || written == input.size()) CloseIfOpen(in_fd);
        continue;
      }
      char buf[65536];
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (fds[i].fd == out_fd ? result.out : result.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        if (fds[i].fd == out_fd) {
          CloseIfOpen(out_fd);
        } else {
          CloseIfOpen(err_fd);
        }
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "srx-packaging-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  std::string p = path_ + "/" + name;
  std::ofstream f(p, std::ios::binary);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + p);
  return p;
}

std::string SourcePath(const std::string& relative) {
  return std::string(SRX_SOURCE_DIR) + "/" + relative;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string HelmBinary() {
  if (const char* h = std::getenv("HELM"); h != nullptr && *h != '\0') return h;
  std::string path = SourcePath(".tools/helm/helm");
  if (::access(path.c_str(), X_OK) != 0) {
    throw std::runtime_error("no Helm at " + path + "; run scripts/install-deps.sh");
  }
  return path;
}

std::map<std::string, std::string> HelmEnv(const std::string& dir) {
  return {{"HELM_CACHE_HOME", dir + "/helm-cache"},
          {"HELM_CONFIG_HOME", dir + "/helm-config"},
          {"HELM_DATA_HOME", dir + "/helm-data"}};
}

namespace {

void AddValues(std::vector<std::string>& argv, const std::vector<std::string>& files,
               const std::vector<std::string>& set) {
  for (const auto& f : files) {
    argv.push_back("-f");
    argv.push_back(f);
  }
  for (const auto& s : set) {
    argv.push_back("--set");
    argv.push_back(s);
  }
}

}  // namespace

CommandResult HelmTemplate(const ChartRender& render) {
  TempDir home;
  std::vector<std::string> argv = {HelmBinary(), "template", render.release,
                                   SourcePath("helm/srexpert-agent"), "--namespace",
                                   render.namespace_};
  if (render.include_crds) argv.push_back("--include-crds");
  AddValues(argv, render.values_files, render.set);
  return Run(argv, {}, HelmEnv(home.path()));
}

CommandResult HelmLint(const std::vector<std::string>& values_files,
                       const std::vector<std::string>& set) {
  TempDir home;
  std::vector<std::string> argv = {HelmBinary(), "lint", "--strict",
                                   SourcePath("helm/srexpert-agent"), "--namespace",
                                   "srexpert-system"};
  AddValues(argv, values_files, set);
  return Run(argv, {}, HelmEnv(home.path()));
}

std::vector<YAML::Node> LoadDocuments(const std::string& yaml) {
  std::vector<YAML::Node> out;
  for (auto& doc : YAML::LoadAll(yaml)) {
    if (doc.IsNull() || !doc.IsMap()) continue;
    out.push_back(doc);
  }
  return out;
}

std::string ObjectKey(const YAML::Node& object) {
  std::string kind = object["kind"] ? object["kind"].as<std::string>() : "<no kind>";
  const YAML::Node meta = object["metadata"];
  std::string name = meta && meta["name"] ? meta["name"].as<std::string>() : "<no name>";
  if (meta && meta["namespace"]) return kind + " " + meta["namespace"].as<std::string>() + "/" + name;
  return kind + " " + name;
}

std::map<std::string, YAML::Node> ByKey(const std::vector<YAML::Node>& documents) {
  std::map<std::string, YAML::Node> out;
  for (const auto& d : documents) {
    if (!out.emplace(ObjectKey(d), d).second) {
      throw std::runtime_error("duplicate object " + ObjectKey(d));
    }
  }
  return out;
}

YAML::Node FindOne(const std::vector<YAML::Node>& documents, const std::string& kind,
                   const std::string& name) {
  YAML::Node found;
  int count = 0;
  for (const auto& d : documents) {
    if (!d["kind"] || d["kind"].as<std::string>() != kind) continue;
    if (!name.empty() && d["metadata"]["name"].as<std::string>() != name) continue;
    found = d;
    ++count;
  }
  if (count != 1) {
    throw std::runtime_error("expected one " + kind + (name.empty() ? "" : " " + name) +
                             ", found " + std::to_string(count));
  }
  return found;
}

std::string Canonical(const YAML::Node& node) {
  YAML::Emitter e;
  e << node;
  return e.c_str();
}

}  // namespace srexpert::packaging
