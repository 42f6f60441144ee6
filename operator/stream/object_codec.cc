#include "stream/object_codec.h"

#include <cstdint>
#include <cstring>

namespace srexpert::stream {

namespace {

// Encoded form: 1 byte format, 4 bytes little-endian original length, then
// the raw deflate stream (or the text itself with format kStored).
constexpr uint8_t kDeflated = 1;
constexpr uint8_t kStored = 2;
constexpr size_t kHeader = 5;
// Raw deflate with an 8 KiB window: the dictionary and a whole projected
// object fit, and the compressor state stays ~40 KB.
constexpr int kWindowBits = -13;
constexpr int kMemLevel = 5;
// Dictionaries are cut to what the window can use.
constexpr size_t kMaxDictionary = 4096;

void PutHeader(std::string* out, uint8_t format, size_t size) {
  out->push_back(static_cast<char>(format));
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((size >> (8 * i)) & 0xff));
}

}  // namespace

ObjectCodec::ObjectCodec() {
  deflate_ok_ = deflateInit2(&deflate_, Z_BEST_COMPRESSION, Z_DEFLATED, kWindowBits, kMemLevel,
                             Z_DEFAULT_STRATEGY) == Z_OK;
  inflate_ok_ = inflateInit2(&inflate_, kWindowBits) == Z_OK;
}

ObjectCodec::~ObjectCodec() {
  if (deflate_ok_) deflateEnd(&deflate_);
  if (inflate_ok_) inflateEnd(&inflate_);
}

size_t ObjectCodec::DecodedSize(std::string_view encoded) {
  if (encoded.size() < kHeader) return 0;
  size_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<size_t>(static_cast<uint8_t>(encoded[1 + i])) << (8 * i);
  return n;
}

const std::string* ObjectCodec::FindDictionary(const std::string& kind) {
  std::lock_guard lock(dictionaries_mu_);
  auto it = dictionaries_.find(kind);
  return it == dictionaries_.end() ? nullptr : &it->second;
}

const std::string& ObjectCodec::Dictionary(const std::string& kind, std::string_view first) {
  std::lock_guard lock(dictionaries_mu_);
  auto it = dictionaries_.find(kind);
  if (it != dictionaries_.end()) return it->second;
  // zlib matches against the end of the dictionary first; the whole first
  // object (up to the window) is the most useful thing to put there.
  std::string_view d = first.substr(0, kMaxDictionary);
  return dictionaries_.emplace(kind, std::string(d)).first->second;
}

std::string ObjectCodec::Encode(const std::string& kind, std::string_view text) {
  std::lock_guard lock(encode_mu_);
  std::string out;
  if (deflate_ok_ && text.size() <= UINT32_MAX) {
    const std::string& dict = Dictionary(kind, text);
    if (deflateReset(&deflate_) == Z_OK &&
        deflateSetDictionary(&deflate_, reinterpret_cast<const Bytef*>(dict.data()),
                             static_cast<uInt>(dict.size())) == Z_OK) {
      out.resize(kHeader + deflateBound(&deflate_, static_cast<uLong>(text.size())));
      deflate_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
      deflate_.avail_in = static_cast<uInt>(text.size());
      deflate_.next_out = reinterpret_cast<Bytef*>(out.data() + kHeader);
      deflate_.avail_out = static_cast<uInt>(out.size() - kHeader);
      if (deflate(&deflate_, Z_FINISH) == Z_STREAM_END) {
        size_t used = out.size() - kHeader - deflate_.avail_out;
        if (used < text.size()) {
          out.resize(kHeader + used);
          std::string header;
          PutHeader(&header, kDeflated, text.size());
          std::memcpy(out.data(), header.data(), kHeader);
          out.shrink_to_fit();
          return out;
        }
      }
    }
  }
  // Incompressible or zlib unavailable: keep the text as it is.
  out.clear();
  out.reserve(kHeader + text.size());
  PutHeader(&out, kStored, text.size());
  out.append(text);
  return out;
}

std::optional<std::string> ObjectCodec::Decode(const std::string& kind, std::string_view encoded) {
  if (encoded.size() < kHeader) return std::nullopt;
  const uint8_t format = static_cast<uint8_t>(encoded[0]);
  const size_t size = DecodedSize(encoded);
  std::string_view body = encoded.substr(kHeader);
  if (format == kStored) {
    if (body.size() != size) return std::nullopt;
    return std::string(body);
  }
  if (format != kDeflated) return std::nullopt;
  const std::string* dict = FindDictionary(kind);
  std::lock_guard lock(decode_mu_);
  if (!inflate_ok_ || !dict || inflateReset(&inflate_) != Z_OK ||
      inflateSetDictionary(&inflate_, reinterpret_cast<const Bytef*>(dict->data()),
                           static_cast<uInt>(dict->size())) != Z_OK) {
    return std::nullopt;
  }
  std::string out(size, '\0');
  inflate_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  inflate_.avail_in = static_cast<uInt>(body.size());
  inflate_.next_out = reinterpret_cast<Bytef*>(out.data());
  inflate_.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&inflate_, Z_FINISH);
  if (rc != Z_STREAM_END || inflate_.avail_out != 0) return std::nullopt;
  return out;
}

}  // namespace srexpert::stream
