// Test helpers shared by the net, agent and hub tests: temp dirs, a test PKI
// made with the openssl CLI, child processes (started and killed by PID),
// a tinyproxy runner, and a polling wait.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace srexpert::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);

// Runs a shell command; returns its exit status (stdout/stderr discarded
// unless `output` is given, which receives both).
int RunShell(const std::string& command, std::string* output = nullptr);

// A test PKI: two independent CAs and server certificates.
struct TestPki {
  explicit TestPki(const std::string& dir);
  std::string ca_cert;            // trusted CA
  std::string server_cert;        // CN/SAN localhost, 127.0.0.1; signed by ca
  std::string server_key;
  std::string wrong_host_cert;    // SAN wrong.example only; signed by ca
  std::string wrong_host_key;
  std::string other_ca_cert;      // an unrelated CA
  std::string other_server_cert;  // SAN localhost, 127.0.0.1; signed by other_ca
  std::string other_server_key;
  std::string self_signed_cert;   // SAN localhost, self-signed
  std::string self_signed_key;
};

// A child process for tests and benchmarks, killed (SIGKILL, also when
// stopped) and reaped when destroyed. Its environment is ours minus proxy
// variables and in-cluster settings: children talk to loopback peers directly
// and never believe they run in a pod. stdout/stderr go to files (the same
// file for both when the names are equal).
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& stdout_file = "",
               const std::string& stderr_file = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  pid_t pid() const { return pid_; }
  // Reaps the child if it exited; false once it has.
  bool Running();
  void Signal(int sig);
  // SIGKILL and reap.
  void Kill();
  // SIGTERM, then waits up to `timeout`: the exit code, or -1 when it did not
  // exit normally in time.
  int Terminate(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

// A port that was free a moment ago (bind to 0, read, close) — for programs
// that cannot bind port 0 themselves, like tinyproxy.
uint16_t FreePort();

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Waits until something accepts TCP connections on 127.0.0.1:port.
bool WaitForPort(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// tinyproxy (Debian) in the foreground on 127.0.0.1, with optional Basic
// auth. Logs to <dir>/tinyproxy.log.
class Tinyproxy {
 public:
  // `port` 0 picks a free one; a fixed port lets a test restart the proxy
  // where the agents expect it.
  Tinyproxy(const std::string& dir, const std::string& user = "", const std::string& password = "",
            uint16_t port = 0);
  uint16_t port() const { return port_; }
  std::string Url() const;  // http://127.0.0.1:<port> (no credentials)
  std::string Log() const;
  bool ok() const { return ok_; }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  bool ok_ = false;
  std::unique_ptr<ChildProcess> process_;
};

// A blocking HTTP(S) GET/POST for tests (Beast). `ca_file` non-empty: HTTPS
// verifying against it with host "localhost".
// `headers` are added to the request (e.g. Authorization).
struct SimpleResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string www_authenticate;
  std::map<std::string, std::string> headers;  // lower-case names; the last of repeats
  std::string error;
};
SimpleResponse HttpCall(uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = "", const std::string& ca_file = "",
                        const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace srexpert::testing
