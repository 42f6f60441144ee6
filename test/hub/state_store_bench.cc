// Throughput of the hub's stream path: decoding delta payloads and applying
// them to the StateStore (one transaction per message), for an in-memory
// and a file store, with modified objects sent whole and as merge patches.
// Prints figures; asserts nothing. Usage:
//   srx_hub_store_bench [--objects N] [--batch N] [--messages N] [--file PATH]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include <fmt/format.h>

#include "hub/state_store.h"
#include "hub/stream_payload.h"

using namespace srexpert::hub;
using Clock = std::chrono::steady_clock;

namespace {

// About 700 bytes, roughly a projected pod.
std::string PodJson(int i, int generation) {
  return fmt::format(
      R"({{"metadata":{{"name":"pod-{0}","namespace":"ns-{1}","uid":"7c1e5a2e-0000-4000-8000-{0:012d}","resourceVersion":"{2}","labels":{{"app":"web-{1}","pod-template-hash":"6d4cf56db6"}},"ownerReferences":[{{"kind":"ReplicaSet","name":"web-{1}-6d4cf56db6","uid":"9a1e5a2e-0000-4000-8000-000000000001","controller":true}}]}},"spec":{{"nodeName":"node-{3}","serviceAccountName":"default","containers":[{{"name":"app","image":"registry.example/web:1.2.{2}","resources":{{"requests":{{"cpu":"100m","memory":"128Mi"}},"limits":{{"cpu":"500m","memory":"256Mi"}}}},"ports":[{{"containerPort":8080,"protocol":"TCP"}}]}},{{"name":"sidecar","image":"registry.example/proxy:2.0","resources":{{"requests":{{"cpu":"10m","memory":"32Mi"}}}}}}]}},"status":{{"phase":"Running","podIP":"10.0.{4}.{5}","conditions":[{{"type":"Ready","status":"True"}}],"containerStatuses":[{{"name":"app","ready":true,"restartCount":{2}}},{{"name":"sidecar","ready":true,"restartCount":0}}]}}}})",
      i, i % 100, generation, i % 1000, (i / 256) % 256, i % 256);
}

// A status flip as the agent sends it: a merge patch of the stored form.
std::string PatchText(int first, int batch, int objects, int generation) {
  std::string out = R"({"changes":[)";
  for (int k = 0; k < batch; ++k) {
    int i = (first + k) % objects;
    if (k) out += ',';
    out += fmt::format(
        R"({{"op":"modified","kind":"Pod","namespace":"ns-{}","name":"pod-{}","patch":{{"metadata":{{"resourceVersion":"{}"}},"status":{{"containerStatuses":[{{"name":"app","ready":true,"restartCount":{}}},{{"name":"sidecar","ready":true,"restartCount":0}}]}}}}}})",
        i % 100, i, generation, generation);
  }
  return out + "]}";
}

std::string DeltaText(int first, int batch, int objects, int generation) {
  std::string out = R"({"changes":[)";
  for (int k = 0; k < batch; ++k) {
    int i = (first + k) % objects;
    if (k) out += ',';
    out += fmt::format(R"({{"op":"modified","kind":"Pod","namespace":"ns-{}","name":"pod-{}","object":{}}})",
                       i % 100, i, PodJson(i, generation));
  }
  return out + "]}";
}

void Run(const std::string& label, const std::string& path, int objects, int batch, int messages) {
  StateStoreOptions o;
  o.path = path;
  std::string error;
  auto store = StateStore::Open(o, &error);
  if (!store) {
    fmt::print(stderr, "cannot open store: {}\n", error);
    std::exit(1);
  }
  int64_t seq = 0;
  // Initial snapshot in parts of `batch` objects.
  auto t0 = Clock::now();
  int parts = (objects + batch - 1) / batch;
  for (int p = 0; p < parts; ++p) {
    SnapshotPayload part;
    part.snapshot = "bench";
    part.part = p;
    if (p == 0) part.kinds_json = "[]";
    for (int i = p * batch; i < std::min(objects, (p + 1) * batch); ++i) {
      part.objects.push_back({"Pod", fmt::format("ns-{}", i % 100), fmt::format("pod-{}", i), PodJson(i, 1)});
    }
    auto r = store->ApplySnapshot("bench", ++seq, part, p == parts - 1);
    if (!r.ok()) {
      fmt::print(stderr, "snapshot failed: {}\n", r.error);
      std::exit(1);
    }
  }
  double snapshot_s = std::chrono::duration<double>(Clock::now() - t0).count();

  for (bool patches : {false, true}) {
  // Pre-build the payload texts so only decode + apply are timed.
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (int m = 0; m < messages; ++m) {
    texts.push_back(patches ? PatchText(m * batch, batch, objects, m + 2)
                            : DeltaText(m * batch, batch, objects, m + 2));
    bytes += texts.back().size();
  }
  double decode_s = 0, apply_s = 0;
  for (const auto& text : texts) {
    auto a = Clock::now();
    auto delta = DecodeDeltaPayload(text, &error);
    auto b = Clock::now();
    if (!delta) {
      fmt::print(stderr, "decode failed: {}\n", error);
      std::exit(1);
    }
    auto r = store->ApplyDelta("bench", ++seq, *delta);
    auto c = Clock::now();
    if (!r.ok()) {
      fmt::print(stderr, "apply failed: {}\n", r.error);
      std::exit(1);
    }
    decode_s += std::chrono::duration<double>(b - a).count();
    apply_s += std::chrono::duration<double>(c - b).count();
  }
  double changes = static_cast<double>(messages) * batch;
  if (!patches) {
    fmt::print("{:<8} snapshot {} objects in {} parts: {:.0f} ms ({:.0f} objects/s)\n", label,
               objects, parts, snapshot_s * 1000, objects / snapshot_s);
  }
  fmt::print(
      "{:<8} {} deltas: {} messages x {} changes ({:.1f} MiB payload): decode {:.0f} changes/s, "
      "apply {:.0f} changes/s, decode+apply {:.0f} changes/s ({:.2f} ms per message)\n",
      label, patches ? "patch" : "whole", messages, batch, bytes / 1048576.0, changes / decode_s,
      changes / apply_s, changes / (decode_s + apply_s), (decode_s + apply_s) * 1000 / messages);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int objects = 10000, batch = 500, messages = 200;
  std::string file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--objects") objects = std::atoi(argv[i + 1]);
    else if (a == "--batch") batch = std::atoi(argv[i + 1]);
    else if (a == "--messages") messages = std::atoi(argv[i + 1]);
    else if (a == "--file") file = argv[i + 1];
    else return 2;
  }
  if (objects < 1 || batch < 1 || messages < 1) return 2;
  Run("memory", "", objects, batch, messages);
  bool temp = file.empty();
  if (temp) file = fmt::format("/tmp/srx-hub-store-bench-{}.db", getpid());
  Run("file", file, objects, batch, messages);
  if (temp) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((file + suffix).c_str());
  }
  return 0;
}
