// ObjectCodec: how the leader holds the projected form of every object in
// memory — deflated, with the first object of the same kind as a preset
// dictionary. Projections of one kind share nearly all their member names
// and much of their values (images, labels, owner kinds, probe shapes), so a
// 2.5 KB pod keeps a few hundred bytes; this is what keeps the leader's RSS
// small at 10,000 pods (docs/performance.md).
//
// Contract:
//  - Encode() is deterministic for a given kind dictionary: the same text
//    gives the same bytes, so "unchanged" can be decided on encoded forms.
//  - A kind's dictionary is fixed by the first Encode() of that kind and
//    never changes for the codec's lifetime (every encoded form of the kind
//    depends on it).
//  - Decode(Encode(x)) == x. Decode of bytes this codec did not produce
//    returns nullopt.
//  - Thread-safe. Encoding and decoding each have one zlib stream under a
//    mutex of its own, so collectors encoding new forms do not wait for
//    the streamer decoding old ones.
#pragma once

#include <zlib.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace srexpert::stream {

class ObjectCodec {
 public:
  ObjectCodec();
  ~ObjectCodec();
  ObjectCodec(const ObjectCodec&) = delete;
  ObjectCodec& operator=(const ObjectCodec&) = delete;

  std::string Encode(const std::string& kind, std::string_view text);
  std::optional<std::string> Decode(const std::string& kind, std::string_view encoded);
  // The original text's length, read from the encoded form's header.
  static size_t DecodedSize(std::string_view encoded);

 private:
  // The kind's dictionary, made from `first` when the kind is new. The
  // reference stays valid (map nodes never move; entries are never erased).
  const std::string& Dictionary(const std::string& kind, std::string_view first);
  const std::string* FindDictionary(const std::string& kind);

  std::mutex encode_mu_;  // guards deflate_
  z_stream deflate_{};
  std::mutex decode_mu_;  // guards inflate_
  z_stream inflate_{};
  bool deflate_ok_ = false, inflate_ok_ = false;
  std::mutex dictionaries_mu_;
  std::map<std::string, std::string> dictionaries_;
};

}  // namespace srexpert::stream
