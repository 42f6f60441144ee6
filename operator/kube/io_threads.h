// Size of cpprestsdk's shared I/O thread pool, which carries every HTTP
// request and watch stream of the Kubernetes client.
#pragma once

#include <chrono>
#include <cstddef>

namespace srexpert::kube {

// Sets the pool to `threads` threads. Only effective before the first HTTP
// request of the process (cpprestsdk creates the pool on first use), so
// call it at the top of main(). The default is 40 threads, each with its own
// stack, far more than a few dozen mostly idle watch streams need. The pool's
// threads block SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGPIPE, so those always
// reach the thread that waits for them. Also calls TrackHttpIoTasks().
void SetHttpIoThreads(size_t threads);

// Routes pplx task continuations (cpprestsdk's and ours) through a scheduler
// that counts them, so that WaitForHttpIoQuiet can tell when none is queued
// or running. Call at the top of main(), before any task exists; later
// calls do nothing.
void TrackHttpIoTasks();

// Waits until no continuation has been queued or running for `quiet`, at
// most `timeout`; false on timeout. Call before returning from main():
// cpprestsdk finishes a closed connection in continuations it schedules
// after the stream owner has let go, and pplx frees a continuation's handle
// only when it runs, so the pool's exit-time shutdown drops such handles
// unrun (LeakSanitizer reports them as leaks).
bool WaitForHttpIoQuiet(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);

}  // namespace srexpert::kube
