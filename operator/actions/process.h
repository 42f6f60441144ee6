// Runs one external program (Helm) under hard limits, for the action handlers.
//
// The contract, in the terms a handler needs:
//  - No shell: argv is passed to execve as is; argv[0] must be an absolute or
//    relative path containing '/', never looked up in PATH.
//  - Nothing is inherited by accident: the environment is exactly `env`, the
//    child's signal mask and dispositions are reset, and no descriptor other
//    than stdin/stdout/stderr survives into the child (close-on-exec plus
//    closefrom(3) in the spawn).
//  - The child leads its own process group; on timeout or cancellation the
//    whole group gets SIGTERM, then SIGKILL after `kill_grace`. When the child
//    exits on its own, whatever it left running in its group is killed too, so
//    a grandchild holding the output pipes cannot stall the caller.
//  - stdout and stderr are each captured up to a cap; the rest is read and
//    discarded (the child never blocks on a full pipe) and flagged truncated.
//  - Spawning uses posix_spawn, so no code of ours runs between fork and exec:
//    safe in a process with many threads holding locks.
//  - The child is always reaped before Run returns: no zombies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace srexpert::actions {

// Lets another thread stop a running process (the tunnel dropped, the agent is
// shutting down). Cancel() is thread-safe, idempotent and wakes Run at once.
class ProcessCancel {
 public:
  ProcessCancel();
  ~ProcessCancel();
  ProcessCancel(const ProcessCancel&) = delete;
  ProcessCancel& operator=(const ProcessCancel&) = delete;

  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Readable once cancelled; for Run's poll loop.
  int wake_fd() const { return pipe_[0]; }

 private:
  std::atomic<bool> cancelled_{false};
  int pipe_[2] = {-1, -1};
};

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0]: the executable's path
  std::vector<std::string> env;   // "NAME=value" entries, the child's whole environment
  std::string working_dir;        // empty: the agent's working directory
  std::string stdin_data;         // written to the child's stdin, which is then closed
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds kill_grace{std::chrono::seconds(2)};  // SIGTERM → SIGKILL
  std::size_t max_stdout_bytes = 1 << 20;
  std::size_t max_stderr_bytes = 256 << 10;
};

struct ProcessResult {
  enum class Outcome {
    kExited,       // exit_code is valid
    kSignaled,     // term_signal killed it (not sent by us)
    kTimedOut,     // we stopped it: timeout
    kCancelled,    // we stopped it: ProcessCancel
    kSpawnFailed,  // nothing ran; error says why
  };
  Outcome outcome = Outcome::kSpawnFailed;
  int exit_code = -1;
  int term_signal = 0;
  std::string out;
  std::string err;
  bool out_truncated = false;
  bool err_truncated = false;
  std::string error;  // kSpawnFailed only
  std::chrono::milliseconds duration{0};

  bool ok() const { return outcome == Outcome::kExited && exit_code == 0; }
};

const char* OutcomeName(ProcessResult::Outcome outcome);

// Runs spec to completion (or its timeout / cancellation) on the calling
// thread. `cancel` may be null. Never throws for the child's behaviour; a
// spec it cannot run (empty argv, no '/' in argv[0]) is kSpawnFailed.
ProcessResult RunProcess(const ProcessSpec& spec, ProcessCancel* cancel = nullptr);

}  // namespace srexpert::actions
