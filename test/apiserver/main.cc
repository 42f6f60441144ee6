// kube-test-apiserver: the loopback Kubernetes API test server as a process,
// for e2e tests, the demo and manual kubectl sessions.
//
//   kube-test-apiserver [--port N] [--token T] [--state-dir DIR] [--watch-history N]
//
// Prints one JSON line {"url":...,"kubeconfig":...,"token_file":...} on
// stdout once it serves; SIGTERM or SIGINT stop it.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "common/json.h"
#include "common/log.h"
#include "test/apiserver/api_server.h"

namespace {

void Usage() {
  std::cerr << "usage: kube-test-apiserver [--port N] [--token T] [--state-dir DIR] "
               "[--watch-history N] [--bookmark-interval-ms N] [--gc-interval-ms N] "
               "[--metrics-api]\n";
}

}  // namespace

int main(int argc, char** argv) {
  srexpert::testing::ApiServerOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    auto eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg == "--metrics-api") {
      options.metrics_api = true;
      continue;
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      return 0;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      Usage();
      return 2;
    }
    try {
      if (arg == "--port") {
        options.port = static_cast<uint16_t>(std::stoul(value));
      } else if (arg == "--token") {
        options.token = value;
      } else if (arg == "--state-dir") {
        options.state_dir = value;
      } else if (arg == "--watch-history") {
        options.watch_history = std::stoul(value);
      } else if (arg == "--bookmark-interval-ms") {
        options.bookmark_interval = std::chrono::milliseconds(std::stoul(value));
      } else if (arg == "--gc-interval-ms") {
        options.gc_interval = std::chrono::milliseconds(std::stoul(value));
      } else {
        std::cerr << "kube-test-apiserver: unknown flag " << arg << "\n";
        Usage();
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "kube-test-apiserver: invalid value for " << arg << ": " << value << "\n";
      return 2;
    }
  }

  // Block the stop signals before any thread starts so only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  srexpert::testing::ApiServer server(options);
  try {
    server.Start();
  } catch (const std::exception& e) {
    srexpert::log::Error("kube-test-apiserver failed to start", {{"error", e.what()}});
    return 1;
  }
  srexpert::json::Document ready(rapidjson::kObjectType);
  auto& a = ready.GetAllocator();
  srexpert::json::SetString(ready, "url", server.Url(), a);
  srexpert::json::SetString(ready, "kubeconfig", server.KubeconfigFile(), a);
  srexpert::json::SetString(ready, "token_file", server.TokenFile(), a);
  srexpert::json::SetString(ready, "ca_file", server.CaFile(), a);
  std::cout << srexpert::json::Dump(ready) << std::endl;
  srexpert::log::Info("kube-test-apiserver serving", {{"url", server.Url()}});

  int sig = 0;
  sigwait(&signals, &sig);
  srexpert::log::Info("kube-test-apiserver stopping", {{"signal", sig}});
  server.Stop();
  return 0;
}
