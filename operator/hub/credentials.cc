#include "hub/credentials.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/log.h"

namespace srexpert::hub {

namespace {

bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

bool MtimeOf(const std::string& path, timespec* out) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;
  *out = st.st_mtim;
  return true;
}

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

bool SameDigest(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool ReadTokenDigest(const json::Value& entry, std::string_view where, std::string* digest,
                     std::string* error) {
  const json::Value* token = json::Find(entry, {"token"});
  const json::Value* hex = json::Find(entry, {"tokenSha256"});
  bool has_token = token && token->IsString() && token->GetStringLength() > 0;
  bool has_hex = hex && hex->IsString() && hex->GetStringLength() > 0;
  if (has_token == has_hex) {
    *error = fmt::format("{}: needs exactly one of token, tokenSha256", where);
    return false;
  }
  if (has_token) {
    *digest = Sha256(std::string_view(token->GetString(), token->GetStringLength()));
    return true;
  }
  if (!HexDecode(std::string_view(hex->GetString(), hex->GetStringLength()), digest) ||
      digest->size() != SHA256_DIGEST_LENGTH) {
    *error = fmt::format("{}.tokenSha256 is not 64 hex digits", where);
    return false;
  }
  return true;
}

WatchedJsonFile::WatchedJsonFile(std::string path, std::string what)
    : path_(std::move(path)), what_(std::move(what)) {}

std::optional<json::Document> WatchedJsonFile::Read(std::string* error) {
  timespec mtime{};
  if (!MtimeOf(path_, &mtime)) {
    *error = fmt::format("cannot read {} {}: {}", what_, path_, std::strerror(errno));
    return std::nullopt;
  }
  std::ifstream in(path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) {
    *error = fmt::format("cannot read {} {}", what_, path_);
    return std::nullopt;
  }
  std::string parse_error;
  auto doc = json::Parse(ss.str(), &parse_error);
  if (!doc) {
    *error = fmt::format("{} {}: {}", what_, path_, parse_error);
    return std::nullopt;
  }
  mtime_ = mtime;
  return doc;
}

std::optional<json::Document> WatchedJsonFile::ReadArrayMember(std::string_view key,
                                                               std::string* error) {
  auto doc = Read(error);
  if (!doc) return std::nullopt;
  const json::Value* member = json::Find(*doc, {key});
  if (!member || !member->IsArray()) {
    *error = fmt::format("{} {}: \"{}\" must be an array", what_, path_, key);
    return std::nullopt;
  }
  return doc;
}

bool WatchedJsonFile::Changed() const {
  timespec now{};
  if (!MtimeOf(path_, &now)) return false;
  return now.tv_sec != mtime_.tv_sec || now.tv_nsec != mtime_.tv_nsec;
}

void WatchedJsonFile::Skip() { MtimeOf(path_, &mtime_); }

void ReloadIfChanged(WatchedJsonFile& file, const std::function<bool(std::string*)>& load) {
  if (!file.Changed()) return;
  std::string error;
  if (load(&error)) {
    log::Info(file.what() + " reloaded", {{"path", file.path()}});
  } else {
    log::Warn(file.what() + " reload failed; keeping the previous contents", {{"error", error}});
    file.Skip();
  }
}

}  // namespace srexpert::hub
