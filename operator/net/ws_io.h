// WebSocket plumbing shared by the tunnel client and the hub: reading one
// message under our own size limit (so an oversize message gets close code
// 4413 rather than Beast's 1009, and memory stays bounded by the limit), and
// a single writer per connection fed by a queue (Beast allows one write at a
// time; messages, pings and the close frame all go through it). With the
// `srexpert.v1.deflate` subprotocol both compress messages themselves
// (net/message_deflate.h) and carry them in binary frames.
//
// Beast types: include only from .cc files. Everything here runs on the
// connection's executor (single-threaded io_context); nothing is locked.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <memory>
#include <string>

#include "net/message_deflate.h"

namespace srexpert::net {

struct WsReadResult {
  boost::system::error_code ec;  // transport/WebSocket error (closed, eof, ...)
  bool too_big = false;          // exceeded the limit; nothing more was read
  bool binary = false;           // a binary message the connection cannot decompress
  std::string corrupt;           // a compressed message that did not inflate: why
  std::string text;
};

// Reads one complete message of at most `max_bytes` (decompressed) bytes.
// With `inflate`, binary messages are compressed ones: inflated (bounded by
// `max_bytes`, else too_big) and returned as text; text messages are taken
// as they are.
template <typename Ws>
boost::asio::awaitable<WsReadResult> ReadMessage(Ws& ws, int64_t max_bytes,
                                                 MessageDecompressor* inflate = nullptr) {
  WsReadResult out;
  boost::beast::flat_buffer buffer;
  constexpr size_t kChunk = 64 * 1024;
  for (;;) {
    size_t n = co_await ws.async_read_some(
        buffer.prepare(kChunk), boost::asio::redirect_error(boost::asio::use_awaitable, out.ec));
    buffer.commit(n);
    if (out.ec) co_return out;
    if (static_cast<int64_t>(buffer.size()) > max_bytes) {
      out.too_big = true;
      co_return out;
    }
    if (ws.is_message_done()) break;
  }
  std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
  if (ws.got_binary() && inflate) {
    std::string error;
    auto status = inflate->Decompress(data, static_cast<size_t>(max_bytes), &out.text, &error);
    if (status == MessageDecompressor::Status::kTooBig) out.too_big = true;
    if (status == MessageDecompressor::Status::kCorrupt) out.corrupt = error;
    co_return out;
  }
  out.binary = ws.got_binary();
  out.text.assign(data);
  co_return out;
}

// Outgoing traffic of one connection. Producers (on the connection's
// executor) call Push/Ping/Close; RunWriter drains it.
class WsWriteQueue {
 public:
  explicit WsWriteQueue(boost::asio::any_io_executor ex)
      : wake_(ex, boost::asio::steady_timer::time_point::max()) {}

  void Push(std::string message) {
    messages_.push_back(std::move(message));
    wake_.cancel();
  }
  void Ping() {
    ping_ = true;
    wake_.cancel();
  }
  // Sends a close frame after the queued messages (first request wins).
  void Close(uint16_t code, std::string reason) {
    if (!close_) close_.emplace(code, std::move(reason));
    wake_.cancel();
  }
  // Stops the writer without a close frame (the transport is gone).
  void Abort() {
    aborted_ = true;
    wake_.cancel();
  }
  // From now on messages go compressed, in binary frames (after the
  // `srexpert.v1.deflate` subprotocol was agreed).
  void EnableCompression() { deflate_ = std::make_unique<MessageCompressor>(); }
  bool closing() const { return close_.has_value() || aborted_; }
  // The close frame this side requested, if any (code and reason).
  const std::optional<std::pair<uint16_t, std::string>>& requested_close() const { return close_; }
  size_t size() const { return messages_.size(); }

  // Called after each message is written (bytes) — for stats.
  std::function<void(size_t)> on_written;

  template <typename Ws>
  boost::asio::awaitable<boost::system::error_code> RunWriter(Ws& ws) {
    namespace asio = boost::asio;
    boost::system::error_code ec;
    for (;;) {
      if (aborted_) co_return ec;
      if (ping_) {
        ping_ = false;
        co_await ws.async_ping({}, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return ec;
        continue;
      }
      if (!messages_.empty()) {
        std::string msg = std::move(messages_.front());
        messages_.pop_front();
        if (deflate_) {
          std::optional<std::string> frame = deflate_->Compress(msg);
          if (!frame) {
            // zlib out of memory: nothing more can be sent on this stream.
            // 4500 ("internal error" in docs/protocol.md's close codes)
            // rather than RFC 6455's 1011: peers act on the documented set.
            messages_.clear();
            Close(4500, "message compression failed");
            continue;
          }
          ws.binary(true);
          co_await ws.async_write(asio::buffer(*frame), asio::redirect_error(asio::use_awaitable, ec));
        } else {
          ws.text(true);
          co_await ws.async_write(asio::buffer(msg), asio::redirect_error(asio::use_awaitable, ec));
        }
        if (ec) co_return ec;
        if (on_written) on_written(msg.size());
        continue;
      }
      if (close_) {
        boost::beast::websocket::close_reason reason(close_->first);
        reason.reason = close_->second.substr(0, 123);
        co_await ws.async_close(reason, asio::redirect_error(asio::use_awaitable, ec));
        co_return ec;
      }
      wake_.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code wait_ec;
      co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
    }
  }

 private:
  boost::asio::steady_timer wake_;
  std::deque<std::string> messages_;
  std::unique_ptr<MessageCompressor> deflate_;
  bool ping_ = false;
  bool aborted_ = false;
  std::optional<std::pair<uint16_t, std::string>> close_;
};

}  // namespace srexpert::net
