// SetHttpIoThreads() must be the first use of cpprestsdk's pool in its
// process, hence a test binary of its own.
#undef BOOST_ASIO_NO_DEPRECATED  // pplx/threadpool.h, as in io_threads.cc
#include <utility>

#include <catch2/catch.hpp>

#include <dirent.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <pplx/pplxtasks.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "kube/io_threads.h"

namespace {

// Thread id → the SigBlk mask from /proc, for every thread of this process.
std::map<std::string, unsigned long long> BlockedMasks() {
  std::map<std::string, unsigned long long> out;
  DIR* dir = opendir("/proc/self/task");
  REQUIRE(dir != nullptr);
  while (dirent* e = readdir(dir)) {
    std::string tid = e->d_name;
    if (tid == "." || tid == "..") continue;
    std::ifstream status("/proc/self/task/" + tid + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("SigBlk:", 0) == 0) out[tid] = std::stoull(line.substr(7), nullptr, 16);
    }
  }
  closedir(dir);
  return out;
}

bool Blocks(unsigned long long mask, int sig) { return (mask >> (sig - 1)) & 1; }

}  // namespace

TEST_CASE("the HTTP I/O pool's threads leave termination signals to the thread that waits",
          "[kube][signals]") {
  auto before = BlockedMasks();
  srexpert::kube::SetHttpIoThreads(3);
  auto after = BlockedMasks();
  int pool_threads = 0;
  for (const auto& [tid, mask] : after) {
    if (before.count(tid)) continue;
    ++pool_threads;
    INFO("thread " << tid);
    CHECK(Blocks(mask, SIGTERM));
    CHECK(Blocks(mask, SIGINT));
    CHECK(Blocks(mask, SIGPIPE));
  }
  CHECK(pool_threads >= 3);
  // The caller's own mask is left as it was.
  sigset_t mine;
  pthread_sigmask(SIG_BLOCK, nullptr, &mine);
  CHECK_FALSE(sigismember(&mine, SIGTERM));

  // Per-thread OpenSSL state on the pool threads, as TLS connections create
  // it. It is freed only if the threads are joined before OpenSSL's
  // exit-time clean-up; under AddressSanitizer, LeakSanitizer checks that
  // when this process exits.
  for (int i = 0; i < 6; ++i) {
    pplx::create_task([] {
      unsigned char bytes[16];
      ERR_clear_error();
      return RAND_bytes(bytes, sizeof bytes);
    }).then([](int ok) { CHECK(ok == 1); }).wait();
  }
}

TEST_CASE("WaitForHttpIoQuiet waits for continuations still queued or running",
          "[kube][exit]") {
  using namespace std::chrono_literals;
  std::atomic<bool> ran{false};
  auto slow = pplx::create_task([] { std::this_thread::sleep_for(300ms); })
                  .then([&] { ran = true; });
  // Nobody waits on `slow`: only the tracking scheduler knows it is pending.
  CHECK(srexpert::kube::WaitForHttpIoQuiet(20ms, 10s));
  CHECK(ran);

  auto slower = pplx::create_task([] { std::this_thread::sleep_for(500ms); });
  CHECK_FALSE(srexpert::kube::WaitForHttpIoQuiet(20ms, 100ms));
  CHECK(srexpert::kube::WaitForHttpIoQuiet(20ms, 10s));
  CHECK(slower.is_done());
}
