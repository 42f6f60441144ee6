// pplx/threadpool.h still names boost::asio::io_service, which the project
// hides everywhere else (BOOST_ASIO_NO_DEPRECATED); this one file needs it.
#undef BOOST_ASIO_NO_DEPRECATED

#include <utility>  // pplx/threadpool.h uses std::exchange via asio without including it

#include "kube/io_threads.h"

#include <pplx/threadpool.h>

namespace srexpert::kube {

void SetHttpIoThreads(size_t threads) { crossplat::threadpool::initialize_with_threads(threads); }

}  // namespace srexpert::kube
