// watch_bench: how fast the agent's Kubernetes client decodes a watch stream
// (kube::Watcher → WatchStream → ResponseStream::ReadLine → JSON), in events/s
// and CPU of this process, for realistic ~9.6 KB pods (the objects of
// stream_bench, test/stream/realistic_objects.h).
//
// The loopback API test server runs in a forked child process so the CPU
// measured (getrusage of this process) is the client's alone. The server is
// loaded with --pods pods; each round then runs a Watcher from
// resourceVersion "" (the server replays the current state as ADDED events,
// as fast as it can write them) until all of them arrived.
//
//   watch_bench [--pods N] [--rounds R] [--io-threads N]
//
// --io-threads: cpprestsdk's I/O pool (srexpert-agent uses 6).
//
// Not a test: run it by hand from a Release build (docs/performance.md).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "kube/config.h"
#include "kube/io_threads.h"
#include "kube/rest_client.h"
#include "kube/watch.h"
#include "test/apiserver/api_server.h"
#include "test/stream/realistic_objects.h"

using namespace srexpert;
using SteadyClock = std::chrono::steady_clock;

namespace {

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "watch_bench: %s\n", what.c_str());
  std::exit(1);
}

// Child: serves until the parent closes `control` (or dies).
[[noreturn]] void ServeInChild(int ready_fd, int control_fd, size_t history) {
  testing::ApiServerOptions o;
  o.watch_history = history;
  o.bookmark_interval = std::chrono::seconds(3600);
  testing::ApiServer server(o);
  try {
    server.Start();
  } catch (const std::exception& e) {
    Die(std::string("API server: ") + e.what());
  }
  std::string kubeconfig = server.KubeconfigFile() + "\n";
  if (write(ready_fd, kubeconfig.data(), kubeconfig.size()) < 0) _exit(1);
  close(ready_fd);
  char c;
  while (read(control_fd, &c, 1) > 0) {
  }
  server.Stop();
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 20000;
  int rounds = 3;
  int io_threads = 6;  // as srexpert-agent sets it
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--pods") pods = std::atoi(argv[i + 1]);
    else if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (a == "--io-threads") io_threads = std::atoi(argv[i + 1]);
    else Die("usage: watch_bench [--pods N] [--rounds R] [--io-threads N]");
  }
  if (io_threads < 1) Die("--io-threads must be at least 1");
  kube::SetHttpIoThreads(static_cast<size_t>(io_threads));

  int ready[2], control[2];
  if (pipe(ready) != 0 || pipe(control) != 0) Die("pipe");
  pid_t child = fork();  // before this process starts any thread
  if (child < 0) Die("fork");
  if (child == 0) {
    close(ready[0]);
    close(control[1]);
    ServeInChild(ready[1], control[0], static_cast<size_t>(pods) + 1000);
  }
  close(ready[1]);
  close(control[0]);
  std::string kubeconfig;
  char c;
  while (read(ready[0], &c, 1) == 1 && c != '\n') kubeconfig.push_back(c);
  if (kubeconfig.empty()) Die("the API server did not start");
  struct Reap {
    pid_t pid;
    int fd;
    ~Reap() {
      close(fd);
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  } reap{child, control[1]};

  auto cfg = kube::LoadKubeconfig(kubeconfig);
  if (!cfg) Die(cfg.error().ToString());
  cfg->qps = 0;
  auto client = kube::RestClient::New(*cfg);
  if (!client) Die(client.error().ToString());

  const std::string ns = "bench";
  auto nsr = (*client)->Create(testing::ParseFixture(
      R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns + R"("}})"));
  if (!nsr) Die(nsr.error().ToString());
  auto t0 = SteadyClock::now();
  std::atomic<int> next{0};
  std::atomic<size_t> bytes{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < pods;) {
        std::string name = testing::PodName("web", i);
        std::string text = testing::RealisticPodJson(ns, "web", name, testing::NodeName(i % 100), i);
        bytes += text.size();
        // As stream_bench: server-owned metadata removed, then the status
        // written through /status as the kubelet would.
        auto doc = testing::ParseFixture(text);
        if (auto* meta = json::FindMutable(doc, {"metadata"})) {
          json::Remove(*meta, "uid");
          json::Remove(*meta, "resourceVersion");
          json::Remove(*meta, "creationTimestamp");
          json::Remove(*meta, "ownerReferences");  // no ReplicaSet here: GC would delete it
          // PodName's 5-character suffix repeats among 20,000 pods.
          json::SetString(*meta, "name", "pod-" + std::to_string(i), doc.GetAllocator());
        }
        auto created = (*client)->Create(doc);
        if (!created) Die(created.error().ToString());
        if (const json::Value* st = json::Find(doc, {"status"}); st && st->IsObject()) {
          auto& obj = *created;
          json::Set(obj, "status", json::Value(*st, obj.GetAllocator()), obj.GetAllocator());
          auto updated = (*client)->UpdateStatus(obj);
          if (!updated) Die(updated.error().ToString());
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  std::printf("loaded %d pods (%.1f KB of JSON each) in %.1f s\n", pods,
              bytes.load() / 1024.0 / pods,
              std::chrono::duration<double>(SteadyClock::now() - t0).count());

  for (int r = 0; r < rounds; ++r) {
    kube::WatcherOptions o;
    o.watch.resource_version = "";  // replay the current state as ADDED events
    kube::Watcher watcher(*client, {"v1", "Pod", ns, ""}, o);
    int events = 0;
    auto start = SteadyClock::now();
    double cpu0 = CpuSeconds();
    auto result = watcher.Run([&](const kube::WatchEvent& e) {
      if (e.type != kube::WatchEvent::Type::kAdded) return;
      if (++events == pods) watcher.Stop();
    });
    double wall = std::chrono::duration<double>(SteadyClock::now() - start).count();
    double cpu = CpuSeconds() - cpu0;
    if (!result) Die(result.error().ToString());
    std::printf("round %d: %d events in %.2f s = %.0f events/s, CPU %.2f s (%.0f %%), %.1f us CPU/event\n",
                r + 1, events, wall, events / wall, cpu, 100.0 * cpu / wall, 1e6 * cpu / events);
  }
  return 0;
}
