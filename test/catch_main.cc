// The test runner of every test binary: Catch2's own, bracketed by the
// tracking of cpprestsdk's continuations (kube/io_threads.h) so that a test
// that closed a connection last does not exit with its clean-up still
// queued — LeakSanitizer would report the dropped continuations as leaks.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <chrono>

#include "kube/io_threads.h"

int main(int argc, char* argv[]) {
  srexpert::kube::TrackHttpIoTasks();
  int rc = Catch::Session().run(argc, argv);
  (void)srexpert::kube::WaitForHttpIoQuiet(std::chrono::milliseconds(20), std::chrono::seconds(5));
  return rc;
}
