// Size of cpprestsdk's shared I/O thread pool, which carries every HTTP
// request and watch stream of the Kubernetes client.
#pragma once

#include <cstddef>

namespace srexpert::kube {

// Sets the pool to `threads` threads. Only effective before the first HTTP
// request of the process (cpprestsdk creates the pool on first use), so
// call it at the top of main(). The default is 40 threads, each with its own
// stack, far more than a few dozen mostly idle watch streams need. The pool's
// threads block SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGPIPE, so those always
// reach the thread that waits for them.
void SetHttpIoThreads(size_t threads);

}  // namespace srexpert::kube
