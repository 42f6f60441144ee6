#include "common/json_skip.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <fmt/format.h>

#include <cstring>

namespace srexpert::json {

namespace {

// Forwards SAX events to the document, except inside skipped members. The
// document counts members and elements itself from what it receives, but
// EndObject/EndArray pass counts that must match what was forwarded, so the
// forwarded counts are kept per open container. Keys are kept as views: the
// parse is in place, so they point into the buffer the document owns.
class SkippingHandler {
 public:
  SkippingHandler(Document& doc, const std::vector<SkipPath>& skip) : doc_(doc), skip_(skip) {}

  bool Null() { return Scalar() || doc_.Null(); }
  bool Bool(bool b) { return Scalar() || doc_.Bool(b); }
  bool Int(int i) { return Scalar() || doc_.Int(i); }
  bool Uint(unsigned u) { return Scalar() || doc_.Uint(u); }
  bool Int64(int64_t i) { return Scalar() || doc_.Int64(i); }
  bool Uint64(uint64_t u) { return Scalar() || doc_.Uint64(u); }
  bool Double(double d) { return Scalar() || doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return Scalar() || doc_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return Scalar() || doc_.String(s, n, copy);
  }

  bool StartObject() { return Open(true) || doc_.StartObject(); }
  bool StartArray() { return Open(false) || doc_.StartArray(); }
  bool EndObject(rapidjson::SizeType) {
    if (skip_depth_ > 0) return --skip_depth_, true;
    auto members = open_.back().forwarded;
    open_.pop_back();
    return doc_.EndObject(members);
  }
  bool EndArray(rapidjson::SizeType) {
    if (skip_depth_ > 0) return --skip_depth_, true;
    auto elements = open_.back().forwarded;
    open_.pop_back();
    return doc_.EndArray(elements);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    if (skip_depth_ > 0) return true;
    std::string_view key(s, n);
    if (Skipped(key)) {
      skip_value_ = true;
      return true;
    }
    key_ = key;
    ++open_.back().forwarded;
    return doc_.Key(s, n, copy);
  }

 private:
  struct Container {
    std::string_view key;  // the member key this container is the value of; "" for elements and the root
    rapidjson::SizeType forwarded = 0;
    bool object = false;
  };

  // True when the scalar is dropped (so the caller does not forward it).
  bool Scalar() {
    if (skip_depth_ > 0) return true;
    if (skip_value_) {
      skip_value_ = false;
      return true;
    }
    CountElement();
    return false;
  }
  bool Open(bool object) {
    if (skip_depth_ > 0) return ++skip_depth_, true;
    if (skip_value_) {
      skip_value_ = false;
      skip_depth_ = 1;
      return true;
    }
    CountElement();
    std::string_view key = !open_.empty() && open_.back().object ? key_ : std::string_view();
    open_.push_back(Container{key, 0, object});
    return false;
  }
  // Array elements are counted when they start; object members at their key.
  void CountElement() {
    if (!open_.empty() && !open_.back().object) ++open_.back().forwarded;
  }
  // Whether `key`, a member of the innermost open object, ends a skip path.
  bool Skipped(std::string_view key) const {
    for (const auto& path : skip_) {
      if (!path.empty() && path.back() == key && MatchesEnclosing(path)) return true;
    }
    return false;
  }
  // path[0 .. n-2] must equal the keys of the enclosing containers that are
  // object members, innermost last.
  bool MatchesEnclosing(const SkipPath& path) const {
    size_t want = path.size() - 1;  // keys still to match, from path[want - 1] down
    for (size_t i = open_.size(); want > 0; --i) {
      if (i == 0) return false;
      const auto& o = open_[i - 1];
      if (o.key.empty()) {
        // An array element or the root: arrays are transparent; the root
        // (or an element that is not inside an array) ends the chain.
        if (i >= 2 && !open_[i - 2].object) continue;
        return false;
      }
      if (o.key != path[want - 1]) return false;
      --want;
    }
    return true;
  }

  Document& doc_;
  const std::vector<SkipPath>& skip_;
  std::vector<Container> open_;
  std::string_view key_;
  int skip_depth_ = 0;      // > 0 inside a skipped container
  bool skip_value_ = false;  // the next value belongs to a skipped member
};

}  // namespace

std::optional<Document> ParseSkipping(std::string_view text, const std::vector<SkipPath>& skip,
                                      std::string* error) {
  Document doc;
  // Parse in place from a copy held by the document's own pool: strings are
  // then referenced instead of copied a second time, and live exactly as
  // long as the document. The copy is NUL-terminated, which is also where
  // a MemoryStream reports its end, so both parses accept the same inputs.
  char* buffer = static_cast<char*>(doc.GetAllocator().Malloc(text.size() + 1));
  if (!text.empty()) std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  rapidjson::ParseResult result;
  auto generate = [&](Document& handler) {
    SkippingHandler h(handler, skip);
    rapidjson::InsituStringStream is(buffer);
    rapidjson::Reader reader;
    result = reader.Parse<rapidjson::kParseInsituFlag>(is, h);
    return !result.IsError();
  };
  doc.Populate(generate);
  if (result.IsError()) {
    if (error) {
      *error = fmt::format("invalid JSON at offset {}: {}", result.Offset(),
                           rapidjson::GetParseError_En(result.Code()));
    }
    return std::nullopt;
  }
  return doc;
}

const std::vector<SkipPath>& ServerBookkeepingPaths() {
  static const std::vector<SkipPath> paths = {
      {"metadata", "managedFields"},
      {"metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"},
  };
  return paths;
}

}  // namespace srexpert::json
