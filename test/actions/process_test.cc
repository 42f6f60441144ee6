// RunProcess: the limits the Helm driver relies on, each shown with a real
// child process (/bin/sh and coreutils as stand-ins for helm).
#include "actions/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using srexpert::actions::ProcessCancel;
using srexpert::actions::ProcessResult;
using srexpert::actions::ProcessSpec;
using srexpert::actions::RunProcess;
using Outcome = ProcessResult::Outcome;
using namespace std::chrono_literals;

namespace {

ProcessSpec Sh(const std::string& script) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.timeout = 30s;
  return spec;
}

// A killed process may linger as a zombie of init for a moment; gone or
// zombie both mean "not running".
bool Running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z' &&
         line[close + 2] != 'X';
}

bool NoChildLeft() {
  errno = 0;
  return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

}  // namespace

TEST_CASE("the exit code and output of a child are reported", "[process]") {
  auto r = RunProcess(Sh("echo out; echo err >&2; exit 3"));
  CHECK(r.outcome == Outcome::kExited);
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.ok());
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  CHECK_FALSE(r.out_truncated);
  CHECK(NoChildLeft());
}

TEST_CASE("a child killed by a signal reports the signal", "[process]") {
  auto r = RunProcess(Sh("kill -USR1 $$"));
  CHECK(r.outcome == Outcome::kSignaled);
  CHECK(r.term_signal == SIGUSR1);
  CHECK(NoChildLeft());
}

TEST_CASE("the child's signal mask is reset even when the caller blocks SIGTERM", "[process]") {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  auto r = RunProcess(Sh("kill -TERM $$; sleep 5; exit 0"));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  CHECK(r.outcome == Outcome::kSignaled);
  CHECK(r.term_signal == SIGTERM);
}

TEST_CASE("the timeout kills a child that ignores SIGTERM", "[process]") {
  auto spec = Sh("trap '' TERM; while :; do sleep 0.05; done");
  spec.timeout = 200ms;
  spec.kill_grace = 200ms;
  auto r = RunProcess(spec);
  CHECK(r.outcome == Outcome::kTimedOut);
  CHECK(r.term_signal == SIGKILL);
  CHECK(NoChildLeft());
}

TEST_CASE("a timeout kills the whole process group, grandchildren included", "[process]") {
  auto spec = Sh("sleep 60 & echo $!; wait");
  spec.timeout = 300ms;
  spec.kill_grace = 200ms;
  auto r = RunProcess(spec);
  CHECK(r.outcome == Outcome::kTimedOut);
  REQUIRE_FALSE(r.out.empty());
  pid_t grandchild = std::stoi(r.out);
  for (int i = 0; i < 100 && Running(grandchild); ++i) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(Running(grandchild));
}

TEST_CASE("a grandchild left behind holding the pipes does not keep Run waiting", "[process]") {
  auto spec = Sh("sleep 60 & echo $!");
  spec.timeout = 60s;
  auto r = RunProcess(spec);
  // Not a timeout: the child's own exit ended the run, and its group went with it.
  CHECK(r.outcome == Outcome::kExited);
  CHECK(r.exit_code == 0);
  pid_t grandchild = std::stoi(r.out);
  for (int i = 0; i < 100 && Running(grandchild); ++i) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(Running(grandchild));
}

TEST_CASE("output beyond the caps is discarded and flagged, the child still finishes",
          "[process]") {
  auto spec = Sh("head -c 3000000 /dev/zero; head -c 5000 /dev/zero >&2; echo done >&2");
  spec.max_stdout_bytes = 1000;
  spec.max_stderr_bytes = 100;
  auto r = RunProcess(spec);
  CHECK(r.ok());
  CHECK(r.out.size() == 1000);
  CHECK(r.out_truncated);
  CHECK(r.err.size() == 100);
  CHECK(r.err_truncated);
}

TEST_CASE("large stdin reaches the child whole", "[process]") {
  auto spec = Sh("wc -c");
  spec.stdin_data.assign(8 << 20, 'x');
  auto r = RunProcess(spec);
  CHECK(r.ok());
  CHECK(std::stol(r.out) == (8 << 20));
}

TEST_CASE("a child that never reads stdin is not an error and does not SIGPIPE us", "[process]") {
  auto spec = Sh("exit 0");
  spec.stdin_data.assign(8 << 20, 'x');
  auto r = RunProcess(spec);
  CHECK(r.ok());
}

TEST_CASE("cancellation from another thread stops the child", "[process]") {
  ProcessCancel cancel;
  auto spec = Sh("sleep 60");
  spec.kill_grace = 200ms;
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);
    cancel.Cancel();
  });
  auto r = RunProcess(spec, &cancel);
  canceller.join();
  CHECK(r.outcome == Outcome::kCancelled);
  CHECK(r.term_signal == SIGTERM);
  CHECK(NoChildLeft());

  // Already cancelled: nothing is started.
  auto again = RunProcess(Sh("exit 0"), &cancel);
  CHECK(again.outcome == Outcome::kCancelled);
}

TEST_CASE("the environment is exactly the one given", "[process]") {
  ::setenv("SRX_PROCESS_TEST_SECRET", "must-not-leak", 1);
  ProcessSpec spec;
  spec.argv = {"/usr/bin/env"};
  spec.env = {"ONLY=this"};
  auto r = RunProcess(spec);
  CHECK(r.ok());
  CHECK(r.out == "ONLY=this\n");
}

TEST_CASE("the working directory is the one given", "[process]") {
  ProcessSpec spec;
  spec.argv = {"/bin/pwd"};
  spec.working_dir = "/tmp";
  auto r = RunProcess(spec);
  CHECK(r.out == "/tmp\n");
}

TEST_CASE("descriptors of the caller do not leak into the child", "[process]") {
  int fd = ::fcntl(0, F_DUPFD, 57);  // deliberately without FD_CLOEXEC
  REQUIRE(fd >= 57);
  auto r =
      RunProcess(Sh("test -e /proc/$$/fd/" + std::to_string(fd) + " && echo leaked || echo clean"));
  ::close(fd);
  CHECK(r.out == "clean\n");
}

TEST_CASE("no shell and no PATH lookup: a bare name or a missing file is a spawn failure",
          "[process]") {
  ProcessSpec bare;
  bare.argv = {"sh", "-c", "exit 0"};
  auto r = RunProcess(bare);
  CHECK(r.outcome == Outcome::kSpawnFailed);
  CHECK_FALSE(r.error.empty());

  ProcessSpec missing;
  missing.argv = {"/nonexistent/helm"};
  auto m = RunProcess(missing);
  CHECK(m.outcome == Outcome::kSpawnFailed);
  CHECK(m.error.find("No such file") != std::string::npos);

  ProcessSpec metachars;  // would be a command line for a shell; here one argument
  metachars.argv = {"/bin/echo", "a; touch /tmp/srx-process-test-injected"};
  auto e = RunProcess(metachars);
  CHECK(e.out == "a; touch /tmp/srx-process-test-injected\n");
  CHECK(::access("/tmp/srx-process-test-injected", F_OK) != 0);
}

namespace {
std::size_t OpenFds() {
  std::size_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd");
       it != std::filesystem::directory_iterator(); ++it) {
    ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("runs from several threads at once neither leak descriptors nor mix outputs",
          "[process]") {
  const std::size_t before = OpenFds();
  std::vector<std::thread> threads;
  std::vector<std::string> outs(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &outs] {
      for (int i = 0; i < 10; ++i) {
        auto r = RunProcess(Sh("echo " + std::to_string(t) + "-" + std::to_string(i)));
        outs[t] += r.out;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    std::string expected;
    for (int i = 0; i < 10; ++i) expected += std::to_string(t) + "-" + std::to_string(i) + "\n";
    CHECK(outs[t] == expected);
  }
  CHECK(OpenFds() == before);
  CHECK(NoChildLeft());
}
