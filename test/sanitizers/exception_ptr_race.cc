// Proof for the exception_ptr entry of tsan.supp, not part of the build:
// two threads share one exception through std::exception_ptr, handed over
// under a mutex; each reads it and drops its reference. The code is
// correct, yet GCC 12's ThreadSanitizer reports a race between what() and
// the free in exception_ptr::_M_release, because libstdc++ (not built with
// -fsanitize=thread) counts the references with atomics TSan cannot see.
//   g++ -std=c++20 -g -fsanitize=thread exception_ptr_race.cc && ./a.out
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <cstdio>
int main() {
  for (int round = 0; round < 200; ++round) {
    std::mutex mu;
    std::condition_variable cv;
    std::exception_ptr shared;
    std::thread producer([&] {
      std::exception_ptr mine = std::make_exception_ptr(std::runtime_error(std::string(64, 'x')));
      {
        std::lock_guard<std::mutex> lock(mu);
        shared = mine;  // the consumer's reference
      }
      cv.notify_all();
      mine = nullptr;  // the producer's reference goes; the consumer may still hold one
    });
    std::size_t n = 0;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return shared != nullptr; });
    }
    std::exception_ptr got;
    { std::lock_guard<std::mutex> lock(mu); got = shared; shared = nullptr; }
    try { std::rethrow_exception(got); } catch (const std::exception& e) { n = std::strlen(e.what()); }
    got = nullptr;
    producer.join();
    if (n != 64) return 1;
  }
  std::puts("done");
  return 0;
}
