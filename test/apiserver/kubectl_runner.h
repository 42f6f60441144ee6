// Runs the real kubectl (/usr/bin/kubectl), or another client that reads
// $KUBECONFIG (helm), with a given kubeconfig and a throw-away HOME (so no
// user cache or config leaks in). Shared by the test server's kubectl and
// helm tests and the e2e tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace srexpert::testing {

struct KubectlResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

class Kubectl {
 public:
  static constexpr const char* kPath = "/usr/bin/kubectl";

  explicit Kubectl(std::string kubeconfig, std::string binary = kPath)
      : kubeconfig_(std::move(kubeconfig)), binary_(std::move(binary)) {
    char tmpl[] = "/tmp/kubectl-test-XXXXXX";
    home_ = mkdtemp(tmpl);
  }
  ~Kubectl() {
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
  }
  Kubectl(const Kubectl&) = delete;
  Kubectl& operator=(const Kubectl&) = delete;

  // Writes `content` into the temp HOME and returns the path.
  std::string Write(const std::string& name, const std::string& content) {
    std::string path = home_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  // Runs kubectl to completion.
  KubectlResult Run(const std::vector<std::string>& args) {
    std::string out = home_ + "/out.txt";
    pid_t pid = Spawn(args, out);
    int status = 0;
    waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(out)};
  }

  // Starts kubectl in the background, stdout and stderr to `out_file`. The
  // caller reaps the returned pid.
  pid_t Spawn(const std::vector<std::string>& args, const std::string& out_file) {
    pid_t pid = fork();
    if (pid == 0) {
      std::FILE* f = std::fopen(out_file.c_str(), "w");
      if (f == nullptr) _exit(126);
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
      setenv("HOME", home_.c_str(), 1);
      setenv("KUBECONFIG", kubeconfig_.c_str(), 1);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(binary_.c_str()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(binary_.c_str(), argv.data());
      _exit(127);
    }
    return pid;
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  const std::string& home() const { return home_; }

 private:
  std::string kubeconfig_;
  std::string binary_;
  std::string home_;
};

}  // namespace srexpert::testing
