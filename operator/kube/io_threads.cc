// pplx/threadpool.h still names boost::asio::io_service, which the project
// hides everywhere else (BOOST_ASIO_NO_DEPRECATED); this one file needs it.
#undef BOOST_ASIO_NO_DEPRECATED

#include <utility>  // pplx/threadpool.h uses std::exchange via asio without including it

#include "kube/io_threads.h"

#include <openssl/ssl.h>
#include <pplx/pplx.h>
#include <pplx/threadpool.h>
#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>

namespace srexpert::kube {

void SetHttpIoThreads(size_t threads) {
  // The pool's threads start now and inherit this thread's signal mask. A
  // process-directed SIGTERM goes to any thread that does not block it; had
  // a pool thread left it unblocked, a SIGTERM during start-up (before main
  // blocks it and waits in sigtimedwait) killed the process by the default
  // action (exit 143) instead of shutting it down cleanly.
  sigset_t block, old;
  sigemptyset(&block);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE}) sigaddset(&block, sig);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  // OpenSSL first: its exit-time clean-up (atexit) must be registered before
  // the pool, whose static destructor joins the threads, so that it runs
  // after them. The other way round OpenSSL deletes its thread-local keys
  // while the pool threads live, and each thread's error queue and DRBGs
  // leak when it is joined (LeakSanitizer reports them at every exit).
  OPENSSL_init_ssl(0, nullptr);
  TrackHttpIoTasks();
  crossplat::threadpool::initialize_with_threads(threads);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

namespace {

// Delegates to pplx's default scheduler (cpprestsdk's pool) and counts what is
// queued or running.
class TrackingScheduler final : public pplx::scheduler_interface {
 public:
  explicit TrackingScheduler(std::shared_ptr<pplx::scheduler_interface> inner)
      : inner_(std::move(inner)) {}

  void schedule(pplx::TaskProc_t proc, void* param) override {
    Touch(+1);
    auto* work = new Work{this, proc, param};
    try {
      inner_->schedule(&Run, work);
    } catch (...) {
      delete work;
      Touch(-1);
      throw;
    }
  }

  bool WaitQuiet(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      auto now = std::chrono::steady_clock::now();
      if (pending_ == 0 && now - last_ >= quiet) return true;
      if (now >= deadline) return false;
      auto until = pending_ == 0 ? std::min(last_ + quiet, deadline) : deadline;
      cv_.wait_until(lock, until);
    }
  }

 private:
  struct Work {
    TrackingScheduler* self;
    pplx::TaskProc_t proc;
    void* param;
  };

  static void Run(void* arg) {
    std::unique_ptr<Work> work(static_cast<Work*>(arg));
    work->proc(work->param);
    work->self->Touch(-1);
  }

  void Touch(int delta) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ += delta;
    last_ = std::chrono::steady_clock::now();
    if (pending_ == 0) cv_.notify_all();
  }

  std::shared_ptr<pplx::scheduler_interface> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  long pending_ = 0;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

std::mutex g_tracking_mu;
// Shared with pplx's ambient scheduler slot; never destroyed before exit.
std::shared_ptr<TrackingScheduler> g_tracking;

}  // namespace

void TrackHttpIoTasks() {
  std::lock_guard<std::mutex> lock(g_tracking_mu);
  if (g_tracking) return;
  // pplx's default (cpprestsdk's pool) underneath. Not get_ambient_scheduler():
  // asking pplx for its scheduler fixes it, and setting one then throws.
  g_tracking = std::make_shared<TrackingScheduler>(std::make_shared<pplx::default_scheduler_t>());
  pplx::set_ambient_scheduler(g_tracking);
}

bool WaitForHttpIoQuiet(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
  std::shared_ptr<TrackingScheduler> tracking;
  {
    std::lock_guard<std::mutex> lock(g_tracking_mu);
    tracking = g_tracking;
  }
  if (!tracking) return true;
  return tracking->WaitQuiet(quiet, timeout);
}

}  // namespace srexpert::kube
