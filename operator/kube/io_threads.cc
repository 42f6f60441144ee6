// pplx/threadpool.h still names boost::asio::io_service, which the project
// hides everywhere else (BOOST_ASIO_NO_DEPRECATED); this one file needs it.
#undef BOOST_ASIO_NO_DEPRECATED

#include <utility>  // pplx/threadpool.h uses std::exchange via asio without including it

#include "kube/io_threads.h"

#include <openssl/ssl.h>
#include <pplx/threadpool.h>
#include <pthread.h>

#include <csignal>

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
  crossplat::threadpool::initialize_with_threads(threads);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace srexpert::kube
