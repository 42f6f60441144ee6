#include "net/message_deflate.h"

#include <fmt/format.h>

#include <cstring>

namespace srexpert::net {

namespace {

// A 32 KiB window (the deflate maximum, what RFC 7692 peers assume by
// default); level 6 and memLevel 6 keep the compressor near 200 KB and fast.
constexpr int kWindowBits = 15;
constexpr int kLevel = 6;
constexpr int kMemLevel = 6;
constexpr unsigned char kFlushTail[4] = {0x00, 0x00, 0xff, 0xff};

}  // namespace

MessageCompressor::MessageCompressor() {
  ok_ = deflateInit2(&z_, kLevel, Z_DEFLATED, -kWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) == Z_OK;
}

MessageCompressor::~MessageCompressor() {
  if (ok_) deflateEnd(&z_);
}

std::optional<std::string> MessageCompressor::Compress(std::string_view text) {
  if (!ok_) return std::nullopt;
  std::string out;
  out.resize(deflateBound(&z_, static_cast<uLong>(text.size())) + 16);
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z_.avail_in = static_cast<uInt>(text.size());
  size_t used = 0;
  for (;;) {
    z_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z_.avail_out = static_cast<uInt>(out.size() - used);
    int rc = deflate(&z_, Z_SYNC_FLUSH);
    used = out.size() - z_.avail_out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      ok_ = false;
      return std::nullopt;
    }
    // Done when all input is consumed and the flush fit (output space left).
    if (z_.avail_in == 0 && z_.avail_out > 0) break;
    out.resize(out.size() * 2);
  }
  out.resize(used);
  // RFC 7692 7.2.1: the data must end with an empty stored block (00 00 ff
  // ff after its header bits), which the peer re-appends. zlib emits nothing
  // at all for a flush that follows a flush with no input between (an empty
  // message): append the block then — the stream is byte-aligned after the
  // earlier flush, so it is 00 00 00 ff ff. Without it the receiver's
  // implied tail starts a stored block that swallows the next messages
  // (found by test/fuzz/message_deflate_fuzz.cc).
  if (out.size() < 4 || std::memcmp(out.data() + out.size() - 4, kFlushTail, 4) != 0) {
    out.append("\x00\x00\x00\xff\xff", 5);
  }
  out.resize(out.size() - 4);
  return out;
}

MessageDecompressor::MessageDecompressor() { ok_ = inflateInit2(&z_, -kWindowBits) == Z_OK; }

MessageDecompressor::~MessageDecompressor() {
  if (ok_) inflateEnd(&z_);
}

MessageDecompressor::Status MessageDecompressor::Decompress(std::string_view data, size_t max_bytes,
                                                           std::string* text, std::string* error) {
  text->clear();
  if (!ok_ || broken_) {
    *error = "decompressor unusable after an earlier error";
    return Status::kCorrupt;
  }
  // Feed the frame, then the implied flush tail.
  std::string_view inputs[2] = {data, {reinterpret_cast<const char*>(kFlushTail), sizeof kFlushTail}};
  char buffer[16384];
  for (std::string_view in : inputs) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    while (z_.avail_in > 0) {
      z_.next_out = reinterpret_cast<Bytef*>(buffer);
      z_.avail_out = sizeof buffer;
      int rc = inflate(&z_, Z_SYNC_FLUSH);
      size_t produced = sizeof buffer - z_.avail_out;
      if (rc != Z_OK && !(rc == Z_BUF_ERROR && produced > 0)) {
        broken_ = true;
        *error = rc == Z_STREAM_END ? "compressed message ends the deflate stream"
                                    : fmt::format("invalid compressed message: {}",
                                                  z_.msg ? z_.msg : "zlib error");
        return Status::kCorrupt;
      }
      if (text->size() + produced > max_bytes) {
        broken_ = true;
        *error = fmt::format("message inflates to more than {} bytes", max_bytes);
        return Status::kTooBig;
      }
      text->append(buffer, produced);
    }
  }
  // Output still held back by zlib (input consumed, window not drained).
  for (;;) {
    z_.next_out = reinterpret_cast<Bytef*>(buffer);
    z_.avail_out = sizeof buffer;
    int rc = inflate(&z_, Z_SYNC_FLUSH);
    size_t produced = sizeof buffer - z_.avail_out;
    if (produced == 0) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      broken_ = true;
      *error = "invalid compressed message";
      return Status::kCorrupt;
    }
    if (text->size() + produced > max_bytes) {
      broken_ = true;
      *error = fmt::format("message inflates to more than {} bytes", max_bytes);
      return Status::kTooBig;
    }
    text->append(buffer, produced);
  }
  return Status::kOk;
}

}  // namespace srexpert::net
