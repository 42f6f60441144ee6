#include "test/net/test_support.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace srexpert::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/srx-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  std::filesystem::rename(tmp, path);  // atomic, like a kubelet Secret update
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunShell(const std::string& command, std::string* output) {
  std::string cmd = command + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  std::string out;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

void Must(const std::string& command) {
  std::string out;
  if (RunShell(command, &out) != 0) {
    throw std::runtime_error("command failed: " + command + "\n" + out);
  }
}

void MakeCa(const std::string& dir, const std::string& name, const std::string& cn) {
  Must("cd " + dir + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
       "-nodes -keyout " + name + ".key -out " + name + ".crt -days 2 -subj '/CN=" + cn + "' "
       "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
}

void MakeLeaf(const std::string& dir, const std::string& name, const std::string& ca,
              const std::string& san) {
  WriteFile(dir + "/" + name + ".ext",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=" + san + "\n");
  Must("cd " + dir + " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
       "-keyout " + name + ".key -out " + name + ".csr -subj '/CN=" + name + "'");
  Must("cd " + dir + " && openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca +
       ".key -CAcreateserial -out " + name + ".crt -days 2 -extfile " + name + ".ext");
}

}  // namespace

TestPki::TestPki(const std::string& dir) {
  MakeCa(dir, "ca", "srx test CA");
  MakeCa(dir, "other-ca", "unrelated CA");
  MakeLeaf(dir, "server", "ca", "DNS:localhost,IP:127.0.0.1");
  MakeLeaf(dir, "wrong-host", "ca", "DNS:wrong.example");
  MakeLeaf(dir, "other-server", "other-ca", "DNS:localhost,IP:127.0.0.1");
  Must("cd " + dir + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
       "-nodes -keyout self.key -out self.crt -days 2 -subj '/CN=localhost' "
       "-addext subjectAltName=DNS:localhost,IP:127.0.0.1");
  ca_cert = dir + "/ca.crt";
  server_cert = dir + "/server.crt";
  server_key = dir + "/server.key";
  wrong_host_cert = dir + "/wrong-host.crt";
  wrong_host_key = dir + "/wrong-host.key";
  other_ca_cert = dir + "/other-ca.crt";
  other_server_cert = dir + "/other-server.crt";
  other_server_key = dir + "/other-server.key";
  self_signed_cert = dir + "/self.crt";
  self_signed_key = dir + "/self.key";
}

namespace {

// Variables a test child must not inherit (see ChildProcess).
bool Scrubbed(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "https_proxy" || lower == "http_proxy" || lower == "no_proxy" ||
         lower == "all_proxy" || name == "KUBERNETES_SERVICE_HOST" ||
         name == "KUBERNETES_SERVICE_PORT" || name == "POD_NAME" || name == "POD_NAMESPACE" ||
         name == "NODE_NAME" || name == "SRX_CONFIG_FILE";
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& stdout_file,
                           const std::string& stderr_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!stdout_file.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  if (!stderr_file.empty() && stderr_file == stdout_file) {
    posix_spawn_file_actions_adddup2(&actions, 1, 2);  // one file offset: no overwrites
  } else if (!stderr_file.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  // Nothing of ours beyond stdio: Asio opens sockets without CLOEXEC, and a
  // child holding a copy of a test server's listening socket keeps its port
  // alive after the server stopped.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) {
    std::string var = *e;
    if (!Scrubbed(var.substr(0, var.find('=')))) env.push_back(*e);
  }
  env.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn failed for " + argv[0] + ": " + std::strerror(rc));
  pid_ = pid;
}

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == 0) return true;
  pid_ = -1;
  exit_status_ = status;
  return false;
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);  // a stopped process still dies of SIGKILL, but be explicit
  ::kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ChildProcess::Terminate(std::chrono::milliseconds timeout) {
  Signal(SIGTERM);
  if (!WaitUntil([&] { return !Running(); }, timeout)) return -1;
  return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
}

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

bool WaitForPort(uint16_t port, std::chrono::milliseconds timeout) {
  return WaitUntil(
      [port] {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        return ok;
      },
      timeout);
}

Tinyproxy::Tinyproxy(const std::string& dir, const std::string& user, const std::string& password,
                     uint16_t port)
    : dir_(dir) {
  port_ = port != 0 ? port : FreePort();
  // No ConnectPort lines: tinyproxy then allows CONNECT to every port (the
  // Debian default config restricts it to 443 and 563).
  std::string conf = "Port " + std::to_string(port_) +
                     "\nListen 127.0.0.1\nTimeout 60\nLogLevel Info\nMaxClients 50\n"
                     "Allow 127.0.0.1\nLogFile \"" + dir + "/tinyproxy.log\"\n";
  if (!user.empty()) conf += "BasicAuth " + user + " " + password + "\n";
  WriteFile(dir + "/tinyproxy.conf", conf);
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/tinyproxy", "-d", "-c", dir + "/tinyproxy.conf"},
      dir + "/tinyproxy.stdout", dir + "/tinyproxy.stderr");
  ok_ = WaitForPort(port_);
}

std::string Tinyproxy::Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string Tinyproxy::Log() const { return ReadFile(dir_ + "/tinyproxy.log"); }

SimpleResponse HttpCall(uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body, const std::string& ca_file,
                        const std::vector<std::pair<std::string, std::string>>& headers) {
  SimpleResponse out;
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve("127.0.0.1", std::to_string(port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "localhost");
    req.body() = body;
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    // Synchronous reads ignore Beast's expiry: a kernel receive timeout makes
    // a server that never answers fail the call instead of hanging the test.
    auto limit_reads = [](asio::ip::tcp::socket& socket) {
      timeval tv{10, 0};
      ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    };
    if (ca_file.empty()) {
      beast::tcp_stream stream(io);
      stream.connect(results);
      limit_reads(stream.socket());
      http::write(stream, req);
      http::read(stream, buffer, res);
    } else {
      asio::ssl::context ctx(asio::ssl::context::tls_client);
      ctx.load_verify_file(ca_file);
      ctx.set_verify_mode(asio::ssl::verify_peer);
      beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
      SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
      SSL_set1_host(stream.native_handle(), "localhost");
      beast::get_lowest_layer(stream).connect(results);
      limit_reads(beast::get_lowest_layer(stream).socket());
      stream.handshake(asio::ssl::stream_base::client);
      http::write(stream, req);
      http::read(stream, buffer, res);
    }
    out.status = res.result_int();
    out.body = res.body();
    out.content_type = std::string(res[http::field::content_type]);
    out.www_authenticate = std::string(res[http::field::www_authenticate]);
    for (const auto& field : res) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      out.headers[name] = std::string(field.value());
    }
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

}  // namespace srexpert::testing
