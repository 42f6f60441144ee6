// What the benchmarks (agent_bench, stream_bench) share: srexpert child
// processes that are SIGKILLed by PID on every exit path — normal, error,
// watchdog, SIGINT/SIGTERM — plus failure reporting, /proc memory figures
// and number formatting. Header-only: each benchmark is one program.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "test/e2e/json_log.h"
#include "test/net/test_support.h"

namespace srexpert::bench {

using Clock = std::chrono::steady_clock;

// ---- every child PID, for the signal handlers and the watchdog -------------

inline constexpr int kMaxChildren = 64;
inline std::atomic<pid_t> g_children[kMaxChildren];

inline void RegisterChild(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}
inline void UnregisterChild(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t p = pid;
    if (slot.compare_exchange_strong(p, 0)) return;
  }
}
// Async-signal-safe: SIGKILL every registered child (SIGKILL needs no
// SIGCONT, even for a stopped child).
inline void KillAllChildren() {
  for (auto& slot : g_children) {
    pid_t p = slot.load();
    if (p > 0) kill(p, SIGKILL);
  }
}
extern "C" inline void OnFatalSignal(int sig) {
  KillAllChildren();
  _exit(128 + sig);
}

// SIGINT/SIGTERM/SIGHUP/SIGQUIT kill every child and exit 128+sig; SIGPIPE
// is ignored; after `timeout_seconds` a watchdog kills every child and exits
// 3, so a run is bounded whatever happens. Call once, early in main().
inline void GuardChildren(const char* program, int timeout_seconds) {
  struct sigaction sa {};
  sa.sa_handler = OnFatalSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::thread([program, secs = timeout_seconds] {
    std::this_thread::sleep_for(std::chrono::seconds(secs));
    std::cerr << program << ": watchdog: " << secs << " s elapsed, killing every child\n";
    KillAllChildren();
    _exit(3);
  }).detach();
}

// ---- failures and numbers ---------------------------------------------------

// A failed step: main() reports it, stops every process and exits non-zero.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
inline void Check(bool ok, const std::string& what) {
  if (!ok) throw Failure(what);
}

inline double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline double Sec(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

inline std::string Fixed(double v, int digits = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
// KiB as MiB with one decimal.
inline std::string MiB(int64_t kb) { return Fixed(static_cast<double>(kb) / 1024.0, 1); }

// ---- srexpert processes -----------------------------------------------------

// A srexpert process (testing::ChildProcess: scrubbed environment, SIGKILLed
// and reaped on destruction) with stdout and stderr in `log_file`; its PID is
// registered so the watchdog and signal handlers can kill it too.
class Process {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args,
          const std::string& log_file)
      : log_file_(log_file), child_(Argv(binary, args), log_file, log_file) {
    RegisterChild(child_.pid());
  }
  ~Process() { UnregisterChild(pid_at_start_); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return child_.pid(); }
  void Signal(int sig) { child_.Signal(sig); }
  bool Running() { return child_.Running(); }
  // SIGCONT (a benchmark may have stopped it), SIGTERM, then SIGKILL if it has
  // not exited within `timeout`.
  void Stop(std::chrono::milliseconds timeout) {
    child_.Signal(SIGCONT);
    if (child_.Terminate(timeout) == -1) child_.Kill();
  }
  void KillNow() { child_.Kill(); }
  std::string Log() const { return testing::ReadFile(log_file_); }

  // JSON log lines whose "msg" is `msg`: all in order, or the first.
  std::vector<json::Document> LogLines(const std::string& msg) const {
    return testing::JsonLogLines(Log(), msg);
  }
  std::optional<json::Document> LogLine(const std::string& msg) const {
    return testing::FirstJsonLogLine(Log(), msg);
  }

 private:
  static std::vector<std::string> Argv(const std::string& binary,
                                       const std::vector<std::string>& args) {
    std::vector<std::string> argv{binary};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  std::string log_file_;
  testing::ChildProcess child_;
  pid_t pid_at_start_ = child_.pid();
};

// ---- /proc --------------------------------------------------------------------

// /proc/<pid>/status, in KiB.
struct Memory {
  int64_t rss_kb = -1;
  int64_t hwm_kb = -1;
  int64_t anon_kb = -1;
  int64_t file_kb = -1;
  int64_t pss_kb = -1;  // /proc/<pid>/smaps_rollup: shared pages divided among sharers
  int threads = -1;
};
inline Memory ReadMemory(pid_t pid) {
  Memory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    auto value = [&] {
      int64_t v = -1;
      in >> v;
      return v;
    };
    if (key == "VmRSS:") m.rss_kb = value();
    else if (key == "VmHWM:") m.hwm_kb = value();
    else if (key == "RssAnon:") m.anon_kb = value();
    else if (key == "RssFile:") m.file_kb = value();
    else if (key == "Threads:") m.threads = static_cast<int>(value());
    std::string rest;
    std::getline(in, rest);
  }
  std::ifstream rollup("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(rollup, line)) {
    if (line.rfind("Pss:", 0) == 0) m.pss_kb = std::atoll(line.c_str() + 4);
  }
  return m;
}

}  // namespace srexpert::bench
