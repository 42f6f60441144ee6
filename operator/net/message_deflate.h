// Tunnel messages compressed as one deflate stream per direction: the
// `srexpert.v1.deflate` subprotocol (docs/protocol.md, "Compression").
//
// Each message is sent as a binary WebSocket frame holding the raw deflate
// output of its text up to a sync flush, without the flush's 4-byte
// 00 00 ff ff tail — the framing of RFC 7692 — and the compressor's window
// carries over from message to message, so a message that repeats most of
// an earlier one (a delta, an ack) costs a few bytes. Beast 1.74's own
// permessage-deflate ends every message with a full flush, which forgets
// the window (boostorg/beast#2313): on the tunnel's small, similar messages
// that made compression nearly useless.
//
// One compressor and one decompressor per connection and direction; not
// thread-safe (each lives on its connection's executor).
#pragma once

#include <zlib.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace srexpert::net {

class MessageCompressor {
 public:
  MessageCompressor();
  ~MessageCompressor();
  MessageCompressor(const MessageCompressor&) = delete;
  MessageCompressor& operator=(const MessageCompressor&) = delete;

  // The frame payload for `text`. Every frame must reach the peer, in order.
  // nullopt when zlib fails (out of memory); the stream is then unusable and
  // the connection must be closed.
  std::optional<std::string> Compress(std::string_view text);

 private:
  z_stream z_{};
  bool ok_ = false;
};

class MessageDecompressor {
 public:
  MessageDecompressor();
  ~MessageDecompressor();
  MessageDecompressor(const MessageDecompressor&) = delete;
  MessageDecompressor& operator=(const MessageDecompressor&) = delete;

  enum class Status { kOk, kTooBig, kCorrupt };
  // Inflates one frame payload into `text`, at most `max_bytes` of it (a
  // small frame must not expand without bound). After kTooBig or kCorrupt
  // the stream is unusable: the connection must be closed.
  Status Decompress(std::string_view data, size_t max_bytes, std::string* text,
                    std::string* error);

 private:
  z_stream z_{};
  bool ok_ = false;
  bool broken_ = false;
};

}  // namespace srexpert::net
