#include "kube/http_transport.h"

// fmt before cpprestsdk: cpprestsdk's U() macro breaks fmt's templates.
#include <fmt/format.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "common/log.h"
#include "kube/cancellation_state.h"

namespace srexpert::kube {

namespace http = web::http;
namespace client = web::http::client;

namespace {

// Long-lived streams (watches) must not be cut by cpprestsdk's per-operation
// timeout: ReadLine enforces its own idle timeout.
constexpr std::chrono::seconds kStreamSocketTimeout{24 * 3600};

struct TlsMaterial {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// Applies the TLS material to a context. With a CA configured only that CA is
// trusted (like client-go), not the system store cpprestsdk loaded first.
boost::system::error_code ConfigureTls(boost::asio::ssl::context& ctx, const TlsMaterial& tls,
                                       std::string* what) {
  boost::system::error_code ec;
  if (!tls.ca_pem.empty()) {
    SSL_CTX_set_cert_store(ctx.native_handle(), X509_STORE_new());
    ctx.add_certificate_authority(boost::asio::buffer(tls.ca_pem), ec);
    if (ec) {
      *what = "certificate authority";
      return ec;
    }
  }
  if (!tls.cert_pem.empty()) {
    ctx.use_certificate_chain(boost::asio::buffer(tls.cert_pem), ec);
    if (ec) {
      *what = "client certificate";
      return ec;
    }
    ctx.use_private_key(boost::asio::buffer(tls.key_pem), boost::asio::ssl::context::pem, ec);
    if (ec) {
      *what = "client key";
      return ec;
    }
  }
  return ec;
}

std::optional<std::chrono::seconds> RetryAfter(const http::http_headers& headers) {
  auto it = headers.find(U("Retry-After"));
  if (it == headers.end()) return std::nullopt;
  // Only the delta-seconds form; the API server never sends an HTTP date.
  try {
    size_t used = 0;
    long v = std::stol(it->second, &used);
    if (used == 0 || v < 0) return std::nullopt;
    return std::chrono::seconds(v);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Error TransportError(const std::string& method, const std::string& path, const char* what) {
  return Error(Reason::kTransport, fmt::format("{} {}: {}", method, path, what));
}

// Waits for a pplx task with a timeout, waking early on cancellation. The
// task keeps running after a timeout; its result is then dropped.
template <typename T>
class TimedWait {
 public:
  enum class Outcome { kDone, kTimeout, kCancelled };

  TimedWait(pplx::task<T> task, const Cancellation& cancel) : st_(std::make_shared<St>()) {
    auto st = st_;
    task.then([st](pplx::task<T> t) {
      std::optional<T> value;
      std::exception_ptr exc;
      try {
        value = t.get();
      } catch (...) {
        exc = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(st->mu);
      st->value = std::move(value);
      st->exc = exc;
      st->done = true;
      st->cv.notify_all();
    });
    auto token = cancel.state()->source.get_token();
    reg_token_ = token;
    if (!token.is_canceled()) {
      reg_ = token.register_callback([st] {
        std::lock_guard<std::mutex> lock(st->mu);
        st->cancelled = true;
        st->cv.notify_all();
      });
      registered_ = true;
    } else {
      st_->cancelled = true;
    }
  }
  ~TimedWait() {
    if (registered_) reg_token_.deregister_callback(reg_);
  }
  TimedWait(const TimedWait&) = delete;
  TimedWait& operator=(const TimedWait&) = delete;

  Outcome Wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(st_->mu);
    st_->cv.wait_for(lock, timeout, [&] { return st_->done || st_->cancelled; });
    if (st_->done) return Outcome::kDone;
    return st_->cancelled ? Outcome::kCancelled : Outcome::kTimeout;
  }
  // Waits for the task itself, ignoring cancellation: true once it ended.
  bool WaitFinished(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(st_->mu);
    return st_->cv.wait_for(lock, timeout, [&] { return st_->done; });
  }
  // After kDone: the value, or rethrows the task's exception.
  T Take() {
    std::lock_guard<std::mutex> lock(st_->mu);
    if (st_->exc) std::rethrow_exception(st_->exc);
    return std::move(*st_->value);
  }

 private:
  struct St {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool cancelled = false;
    std::optional<T> value;
    std::exception_ptr exc;
  };
  std::shared_ptr<St> st_;
  pplx::cancellation_token reg_token_ = pplx::cancellation_token::none();
  pplx::cancellation_token_registration reg_;
  bool registered_ = false;
};

// Reads a streamed body (a watch) in blocks and splits it into lines here.
// cpprestsdk's istream::read_line pulls one byte at a time through the
// streambuf, and every byte that is not yet buffered costs a pplx task and a
// thread hand-off. Instead, whatever the body buffer already holds is taken
// in one go (acquire/release: synchronous, no task, no copy inside
// cpprestsdk); only when it is empty does ReadLine wait, on a single getc()
// task that completes when the next bytes arrive. Lines are split in
// `buf_`; a line may span any number of blocks.
class CppRestResponseStream final : public ResponseStream {
 public:
  using Buf = concurrency::streams::streambuf<uint8_t>;
  using IntType = Buf::int_type;

  // A line (one watch event) longer than this fails the stream: bounded
  // memory against a server that never sends '\n'. Far above any object the
  // API server stores (etcd's limit is 1.5 MiB).
  static constexpr size_t kMaxLine = size_t{16} << 20;
  // Taken from the body buffer per pull before lines are looked for again.
  static constexpr size_t kPullBytes = size_t{256} << 10;
  // How long the destructor waits for a cancelled getc() to end.
  static constexpr std::chrono::milliseconds kPendingDrain{2000};

  CppRestResponseStream(http::http_response response, Cancellation cancel, std::string what)
      : response_(std::move(response)),
        body_(response_.body().streambuf()),
        cancel_(std::move(cancel)),
        what_(std::move(what)) {}
  // Cancelling closes the connection, which fails a pending getc(). Waiting
  // for that here means no task of this stream outlives it: a getc() still
  // queued in cpprestsdk at process exit holds its continuation in a cycle
  // that LeakSanitizer reports, and nothing would ever complete it.
  ~CppRestResponseStream() override {
    cancel_.Cancel();
    if (pending_ && !pending_->WaitFinished(kPendingDrain)) {
      log::Warn("stream read still pending after cancel",
                {{"stream", what_}, {"waitedMs", static_cast<int64_t>(kPendingDrain.count())}});
    }
  }

  Result<std::optional<std::string>> ReadLine(std::chrono::milliseconds idle) override {
    if (eof_) return std::optional<std::string>();
    if (cancel_.cancelled()) return Error(Reason::kCancelled, what_ + ": cancelled");
    if (failed_) return *failed_;
    // kTimeout when no complete line within `idle` of this call, as before.
    const auto deadline = std::chrono::steady_clock::now() + idle;
    for (;;) {
      if (auto line = NextBufferedLine()) return std::optional<std::string>(std::move(*line));
      if (ended_) {
        // The body ended: a last line without '\n', then the end.
        eof_ = true;
        if (pos_ == buf_.size()) return std::optional<std::string>();
        std::string line(buf_, pos_);
        buf_.clear();
        pos_ = scanned_ = 0;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return std::optional<std::string>(std::move(line));
      }
      if (buf_.size() - pos_ > kMaxLine) {
        failed_ = Error(Reason::kTransport,
                        fmt::format("stream {}: line longer than {} bytes", what_, kMaxLine));
        return *failed_;
      }
      if (!pending_) {
        auto pulled = Pull();
        if (!pulled) return pulled.error();
        if (*pulled) continue;
        // Nothing buffered: wait for the next bytes. One wait at a time; after
        // a timeout it stays pending and a later call resumes waiting for it.
        pending_ = std::make_unique<TimedWait<IntType>>(body_.getc(), cancel_);
      }
      auto now = std::chrono::steady_clock::now();
      auto left = deadline > now ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                       deadline - now + std::chrono::microseconds(999))
                                 : std::chrono::milliseconds(0);
      auto outcome = pending_->Wait(left);
      if (outcome == TimedWait<IntType>::Outcome::kCancelled) {
        return Error(Reason::kCancelled, what_ + ": cancelled");
      }
      if (outcome == TimedWait<IntType>::Outcome::kTimeout) {
        return Error(Reason::kTimeout,
                     fmt::format("{}: no data for {} ms", what_, idle.count()));
      }
      auto wait = std::move(pending_);
      try {
        (void)wait->Take();  // getc() only peeks: the bytes are pulled next
      } catch (const std::exception& e) {
        return Failed(e.what());
      }
    }
  }

 private:
  // The next complete line in buf_ (without "\n" or "\r\n"), if any.
  std::optional<std::string> NextBufferedLine() {
    size_t from = pos_ + scanned_;
    if (from >= buf_.size()) return std::nullopt;
    const void* nl = std::memchr(buf_.data() + from, '\n', buf_.size() - from);
    if (!nl) {
      scanned_ = buf_.size() - pos_;
      return std::nullopt;
    }
    size_t end = static_cast<const char*>(nl) - buf_.data();
    size_t len = end - pos_;
    if (len > 0 && buf_[end - 1] == '\r') --len;
    std::string line(buf_.data() + pos_, len);
    pos_ = end + 1;
    scanned_ = 0;
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    return line;
  }

  // Moves what the body buffer holds (up to about kPullBytes) into buf_
  // without waiting. True when bytes were taken or the body ended (ended_).
  Result<bool> Pull() {
    if (pos_ > 0) {  // drop consumed bytes before appending
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    size_t taken = 0;
    try {
      while (taken < kPullBytes) {
        uint8_t* ptr = nullptr;
        size_t count = 0;
        if (!body_.acquire(ptr, count)) {
          if (taken == 0) taken += PullSlowly();
          break;
        }
        if (ptr == nullptr) {  // the write end closed and everything was read
          if (auto exc = body_.exception()) std::rethrow_exception(exc);
          ended_ = true;
          break;
        }
        buf_.append(reinterpret_cast<const char*>(ptr), count);
        body_.release(ptr, count);  // count 0: drops an empty block
        taken += count;
      }
    } catch (const std::exception& e) {
      return Failed(e.what());
    }
    return taken > 0 || ended_;
  }

  // For a body buffer without acquire(): what in_avail() promises, byte by
  // byte but without tasks. Not the path a cpprestsdk response body takes.
  size_t PullSlowly() {
    size_t n = 0;
    for (size_t avail = body_.in_avail(); n < avail && n < kPullBytes; ++n) {
      IntType c = body_.sbumpc();
      if (c == Buf::traits::eof()) {
        if (auto exc = body_.exception()) std::rethrow_exception(exc);
        ended_ = true;
        break;
      }
      if (c == Buf::traits::requires_async()) break;
      buf_.push_back(static_cast<char>(c));
    }
    return n;
  }

  Error Failed(const char* what) {
    if (cancel_.cancelled()) return Error(Reason::kCancelled, what_ + ": cancelled");
    failed_ = TransportError("stream", what_, what);
    return *failed_;
  }

  http::http_response response_;
  Buf body_;
  Cancellation cancel_;
  std::string what_;
  std::string buf_;       // received, not yet returned: bytes [pos_, size)
  size_t pos_ = 0;
  size_t scanned_ = 0;    // bytes after pos_ known to hold no '\n'
  bool ended_ = false;    // the body ended; buf_ holds the rest
  bool eof_ = false;      // the end was returned
  std::optional<Error> failed_;
  std::unique_ptr<TimedWait<IntType>> pending_;
};

class CppRestTransport final : public HttpTransport {
 public:
  CppRestTransport(const RestConfig& config, const TlsMaterial& tls)
      : user_agent_(config.user_agent),
        client_(utility::conversions::to_string_t(config.server),
                MakeConfig(config, tls, config.request_timeout)),
        stream_client_(utility::conversions::to_string_t(config.server),
                       MakeConfig(config, tls, kStreamSocketTimeout)),
        request_timeout_(config.request_timeout) {}

  Result<HttpResponse> Send(const HttpRequest& request, const Cancellation* cancel) override {
    if (request.timeout) return SendWithin(request, *request.timeout, cancel);
    try {
      auto token = cancel ? cancel->state()->source.get_token() : pplx::cancellation_token::none();
      http::http_response response = client_.request(MakeMessage(request), token).get();
      HttpResponse out;
      out.status = response.status_code();
      out.retry_after = RetryAfter(response.headers());
      out.body = response.extract_utf8string(true).get();
      return out;
    } catch (const std::exception& e) {
      if (cancel && cancel->cancelled()) {
        return Error(Reason::kCancelled, request.method + " " + request.path + ": cancelled");
      }
      return TransportError(request.method, request.path, e.what());
    }
  }

  // Send, abandoning the request when the whole response has not arrived
  // within `limit`: the response and its body are read as one task so that
  // neither part can outlast it.
  Result<HttpResponse> SendWithin(const HttpRequest& request, std::chrono::milliseconds limit,
                                  const Cancellation* parent) {
    Cancellation cancel = parent ? parent->Child() : Cancellation();
    std::string what = fmt::format("{} {}", request.method, request.path);
    try {
      auto task =
          client_.request(MakeMessage(request), cancel.state()->source.get_token())
              .then([](http::http_response response) {
                auto status = response.status_code();
                auto retry_after = RetryAfter(response.headers());
                return response.extract_utf8string(true).then(
                    [status, retry_after](std::string body) {
                      return HttpResponse{status, std::move(body), retry_after};
                    });
              });
      TimedWait<HttpResponse> wait(std::move(task), cancel);
      auto outcome = wait.Wait(limit);
      if (outcome == TimedWait<HttpResponse>::Outcome::kDone) return wait.Take();
      cancel.Cancel();
      if (outcome == TimedWait<HttpResponse>::Outcome::kCancelled) {
        return Error(Reason::kCancelled, what + ": cancelled");
      }
      return Error(Reason::kTimeout,
                   fmt::format("{}: no response within {} ms (the call's deadline); the server "
                               "may still have applied it",
                               what, limit.count()));
    } catch (const std::exception& e) {
      cancel.Cancel();
      if (parent && parent->cancelled()) return Error(Reason::kCancelled, what + ": cancelled");
      return TransportError(request.method, request.path, e.what());
    }
  }

  Result<std::unique_ptr<ResponseStream>> Open(const HttpRequest& request,
                                               const Cancellation& parent) override {
    Cancellation cancel = parent.Child();
    std::string what = fmt::format("{} {}", request.method, request.path);
    try {
      TimedWait<http::http_response> wait(
          stream_client_.request(MakeMessage(request), cancel.state()->source.get_token()),
          cancel);
      auto outcome = wait.Wait(request_timeout_);
      if (outcome != TimedWait<http::http_response>::Outcome::kDone) {
        cancel.Cancel();
        if (outcome == TimedWait<http::http_response>::Outcome::kCancelled) {
          return Error(Reason::kCancelled, what + ": cancelled");
        }
        return Error(Reason::kTransport, what + ": no response headers in time");
      }
      http::http_response response = wait.Take();
      int status = response.status_code();
      if (status < 200 || status > 299) {
        auto retry_after = RetryAfter(response.headers());
        TimedWait<std::string> body(response.extract_utf8string(true), cancel);
        std::string text;
        if (body.Wait(request_timeout_) == TimedWait<std::string>::Outcome::kDone) {
          text = body.Take();
        }
        cancel.Cancel();
        return Error::FromResponse(status, text, retry_after);
      }
      return std::unique_ptr<ResponseStream>(
          new CppRestResponseStream(std::move(response), std::move(cancel), what));
    } catch (const std::exception& e) {
      cancel.Cancel();
      if (parent.cancelled()) return Error(Reason::kCancelled, what + ": cancelled");
      return TransportError(request.method, request.path, e.what());
    }
  }

 private:
  // The address family of the server URL's host when it is an IP literal.
  static std::optional<boost::asio::ip::tcp> LiteralFamily(const std::string& server) {
    std::string host;
    try {
      host = utility::conversions::to_utf8string(web::uri(utility::conversions::to_string_t(server)).host());
    } catch (const std::exception&) {
      return std::nullopt;  // New() rejects such a URL anyway
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    return address.is_v6() ? boost::asio::ip::tcp::v6() : boost::asio::ip::tcp::v4();
  }

  static client::http_client_config MakeConfig(const RestConfig& config, const TlsMaterial& tls,
                                               std::chrono::seconds timeout) {
    client::http_client_config cfg;
    cfg.set_timeout(timeout);
    cfg.set_validate_certificates(!config.insecure_skip_tls_verify);
    // No redirects: cpprestsdk would resend every header, the bearer token
    // included, to whatever host Location names, and its redirect follower
    // copies the request's headers after handing the request to an I/O
    // thread that may already be writing them (a data race, found by
    // ThreadSanitizer). The API server does not redirect API calls.
    cfg.set_max_redirects(0);
    cfg.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) {
      std::string what;
      // Validated in New(); a failure here cannot happen for the same PEMs.
      (void)ConfigureTls(ctx, tls, &what);
    });
    // cpprestsdk writes a request's headers and body as two writes. With
    // Nagle's algorithm the body then waits for the ACK of the headers, which
    // the API server delays (up to 40 ms on Linux): every write with a body
    // took ~40 ms under load.
    //
    // TCP keepalive finds a dead API server or a broken path on a connection
    // that is legitimately silent: a watch of a quiet kind carries no bytes
    // for minutes (kube-apiserver's bookmarks are not periodic on an idle
    // resource). client-go relies on HTTP/2 pings for this; over HTTP/1.1
    // the kernel's probes do the same job (dead after ~60 s of silence
    // without an answer), so the watch's own idle limit only has to catch a
    // server that breaks its timeoutSeconds promise.
    //
    // cpprestsdk calls this before it connects: on a pooled connection the
    // socket is open and the options stick; a new socket is still closed, and
    // connect() would open it after us. When the server is an IP literal (the
    // in-cluster case, KUBERNETES_SERVICE_HOST) we open it ourselves with that
    // family so a new connection — every watch's — gets the options too; for
    // a host name the family is unknown here and the options apply from the
    // connection's second request on.
    const bool https = config.server.rfind("https://", 0) == 0;
    std::optional<boost::asio::ip::tcp> family = LiteralFamily(config.server);
    cfg.set_nativehandle_options([https, family](client::native_handle handle) {
      auto& socket =
          https ? static_cast<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>*>(handle)
                      ->next_layer()
                : *static_cast<boost::asio::ip::tcp::socket*>(handle);
      boost::system::error_code ignored;
      if (!socket.is_open() && family) socket.open(*family, ignored);
      socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
      socket.set_option(boost::asio::socket_base::keep_alive(true), ignored);
      using boost::asio::detail::socket_option::integer;
      socket.set_option(integer<IPPROTO_TCP, TCP_KEEPIDLE>(30), ignored);
      socket.set_option(integer<IPPROTO_TCP, TCP_KEEPINTVL>(10), ignored);
      socket.set_option(integer<IPPROTO_TCP, TCP_KEEPCNT>(3), ignored);
    });
    return cfg;
  }

  http::http_request MakeMessage(const HttpRequest& r) const {
    http::http_request msg(utility::conversions::to_string_t(r.method));
    msg.set_request_uri(utility::conversions::to_string_t(r.path));
    auto& h = msg.headers();
    h.add(U("Accept"), U("application/json"));
    h.add(U("User-Agent"), utility::conversions::to_string_t(user_agent_));
    if (!r.bearer_token.empty()) {
      h.add(U("Authorization"), utility::conversions::to_string_t("Bearer " + r.bearer_token));
    }
    if (!r.body.empty()) {
      // A byte buffer, not set_body(std::string): that one wraps the text in
      // a streambuf<char> and casts it to streambuf<uint8_t> through void
      // (cpprest/astreambuf.h), an object of the wrong type, which UBSan
      // reports on every request. Same length, same Content-Type.
      std::vector<uint8_t> bytes(r.body.begin(), r.body.end());
      msg.set_body(concurrency::streams::bytestream::open_istream(std::move(bytes)), r.body.size(),
                   utility::conversions::to_string_t(r.content_type));
    }
    return msg;
  }

  std::string user_agent_;
  client::http_client client_;
  client::http_client stream_client_;
  std::chrono::milliseconds request_timeout_;
};

}  // namespace

Result<std::unique_ptr<HttpTransport>> HttpTransport::New(const RestConfig& config) {
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return Error(Reason::kConfig,
                 fmt::format("{}: server \"{}\" is not an http(s) URL", config.source, config.server));
  }
  TlsMaterial tls{config.ca_pem, config.client_cert_pem, config.client_key_pem};
  boost::asio::ssl::context scratch(boost::asio::ssl::context::sslv23_client);
  std::string what;
  if (auto ec = ConfigureTls(scratch, tls, &what)) {
    return Error(Reason::kConfig,
                 fmt::format("{}: invalid {}: {}", config.source, what, ec.message()));
  }
  try {
    return std::unique_ptr<HttpTransport>(new CppRestTransport(config, tls));
  } catch (const std::exception& e) {
    return Error(Reason::kConfig, fmt::format("{}: server \"{}\": {}", config.source,
                                              config.server, e.what()));
  }
}

}  // namespace srexpert::kube
