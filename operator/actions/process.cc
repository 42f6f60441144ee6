#include "actions/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace srexpert::actions {
namespace {

using Clock = std::chrono::steady_clock;

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Owns the spawn attribute objects so every early return destroys them.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

// Reads what is available; keeps up to `cap` bytes, discards the rest.
// Returns false at EOF or on a hard error (the descriptor is then done).
bool Drain(int fd, std::string& into, std::size_t cap, bool& truncated) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      std::size_t room = into.size() < cap ? cap - into.size() : 0;
      std::size_t take = static_cast<std::size_t>(n) < room ? static_cast<std::size_t>(n) : room;
      into.append(buf, take);
      if (take < static_cast<std::size_t>(n)) truncated = true;
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

}  // namespace

ProcessCancel::ProcessCancel() {
  if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) pipe_[0] = pipe_[1] = -1;
}

ProcessCancel::~ProcessCancel() {
  CloseFd(pipe_[0]);
  CloseFd(pipe_[1]);
}

void ProcessCancel::Cancel() {
  if (cancelled_.exchange(true)) return;
  if (pipe_[1] >= 0) {
    char b = 1;
    ssize_t ignored = ::write(pipe_[1], &b, 1);  // full pipe: already readable
    (void)ignored;
  }
}

const char* OutcomeName(ProcessResult::Outcome outcome) {
  switch (outcome) {
    case ProcessResult::Outcome::kExited:
      return "exited";
    case ProcessResult::Outcome::kSignaled:
      return "signaled";
    case ProcessResult::Outcome::kTimedOut:
      return "timedOut";
    case ProcessResult::Outcome::kCancelled:
      return "cancelled";
    case ProcessResult::Outcome::kSpawnFailed:
      return "spawnFailed";
  }
  return "unknown";
}

ProcessResult RunProcess(const ProcessSpec& spec, ProcessCancel* cancel) {
  ProcessResult result;
  const auto started = Clock::now();
  if (spec.argv.empty() || spec.argv[0].find('/') == std::string::npos) {
    result.error = "argv[0] must be a path to the executable (no PATH lookup)";
    return result;
  }
  if (cancel != nullptr && cancel->cancelled()) {
    result.outcome = ProcessResult::Outcome::kCancelled;
    return result;
  }

  // stdin is a socket so that writing after the child closed it is EPIPE from
  // send(MSG_NOSIGNAL), never a SIGPIPE for the agent.
  int in_pair[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {in_pair, out_pipe, err_pipe}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
  };
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0 ||
      ::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    close_all();
    return result;
  }
  // The child only reads its end of the socket.
  ::shutdown(in_pair[1], SHUT_WR);

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, in_pair[1], 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err_pipe[1], 2);
  // Descriptors another thread opened without O_CLOEXEC must not leak either.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  if (!spec.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&setup.actions, spec.working_dir.c_str());
  }
  // Our threads block SIGTERM/SIGPIPE (runtime.h); the child starts clean, in
  // its own process group so the whole group can be signalled.
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attr, &empty);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
  CloseFd(in_pair[1]);
  CloseFd(out_pipe[1]);
  CloseFd(err_pipe[1]);
  if (rc != 0) {
    result.error = "spawn " + spec.argv[0] + ": " + std::strerror(rc);
    close_all();
    return result;
  }

  for (int fd : {in_pair[0], out_pipe[0], err_pipe[0]}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  std::size_t stdin_off = 0;
  if (spec.stdin_data.empty()) CloseFd(in_pair[0]);

  const auto deadline = started + spec.timeout;
  Clock::time_point kill_at{};  // set once SIGTERM went to the group
  Clock::time_point exited_at{};
  bool stopping = false, exited = false;
  ProcessResult::Outcome stop_reason = ProcessResult::Outcome::kTimedOut;
  int status = 0;

  auto stop = [&](ProcessResult::Outcome why) {
    if (stopping) return;
    stopping = true;
    stop_reason = why;
    ::kill(-pid, SIGTERM);
    kill_at = Clock::now() + spec.kill_grace;
  };

  // Runs until the child has exited and both output pipes reached EOF. The
  // child is detected with WNOWAIT so its process group id stays reserved
  // (an unreaped leader cannot be reused) until the group has been killed.
  while (!exited || out_pipe[0] >= 0 || err_pipe[0] >= 0) {
    if (!exited) {
      siginfo_t info{};
      if (::waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
        exited = true;
        exited_at = Clock::now();
        ::kill(-pid, SIGKILL);  // leftovers in the group hold our pipes
        ::waitpid(pid, &status, 0);
        CloseFd(in_pair[0]);
      }
    }
    auto now = Clock::now();
    if (!stopping && !exited && now >= deadline) stop(ProcessResult::Outcome::kTimedOut);
    if (!stopping && !exited && cancel != nullptr && cancel->cancelled()) {
      stop(ProcessResult::Outcome::kCancelled);
    }
    if (stopping && !exited && now >= kill_at) ::kill(-pid, SIGKILL);
    // A descendant that left the group (setsid) may keep the pipes open;
    // once the child is gone it gets kill_grace, then we stop listening.
    if (exited && now >= exited_at + spec.kill_grace) {
      CloseFd(out_pipe[0]);
      CloseFd(err_pipe[0]);
    }

    pollfd fds[4];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_pipe[0] >= 0) {
      out_i = n;
      fds[n++] = {out_pipe[0], POLLIN, 0};
    }
    if (err_pipe[0] >= 0) {
      err_i = n;
      fds[n++] = {err_pipe[0], POLLIN, 0};
    }
    if (in_pair[0] >= 0) {
      in_i = n;
      fds[n++] = {in_pair[0], POLLOUT, 0};
    }
    if (cancel != nullptr && !stopping && cancel->wake_fd() >= 0) {
      fds[n++] = {cancel->wake_fd(), POLLIN, 0};
    }
    // Short ticks: exit is noticed by waitid, not by an fd.
    ::poll(fds, static_cast<nfds_t>(n), 20);
    if (out_i >= 0 && fds[out_i].revents != 0 &&
        !Drain(out_pipe[0], result.out, spec.max_stdout_bytes, result.out_truncated)) {
      CloseFd(out_pipe[0]);
    }
    if (err_i >= 0 && fds[err_i].revents != 0 &&
        !Drain(err_pipe[0], result.err, spec.max_stderr_bytes, result.err_truncated)) {
      CloseFd(err_pipe[0]);
    }
    if (in_i >= 0 && fds[in_i].revents != 0) {
      while (stdin_off < spec.stdin_data.size()) {
        ssize_t w = ::send(in_pair[0], spec.stdin_data.data() + stdin_off,
                           spec.stdin_data.size() - stdin_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
          stdin_off += static_cast<std::size_t>(w);
          continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        stdin_off = spec.stdin_data.size();  // the child stopped reading: done
      }
      if (stdin_off >= spec.stdin_data.size()) CloseFd(in_pair[0]);
    }
  }
  close_all();

  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (stopping) {
    result.outcome = stop_reason;
    if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.outcome = ProcessResult::Outcome::kSignaled;
    result.term_signal = WTERMSIG(status);
  } else {
    result.outcome = ProcessResult::Outcome::kExited;
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace srexpert::actions
