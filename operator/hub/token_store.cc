#include "hub/token_store.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/json.h"
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

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

TokenStore::TokenStore(std::string path) : path_(std::move(path)) {}

bool TokenStore::Load(std::string* error) {
  std::lock_guard lock(mu_);
  return LoadLocked(error);
}

bool TokenStore::LoadLocked(std::string* error) {
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) {
    if (error) *error = fmt::format("cannot read token file {}: {}", path_, std::strerror(errno));
    return false;
  }
  std::ifstream in(path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) {
    if (error) *error = fmt::format("cannot read token file {}", path_);
    return false;
  }
  std::string parse_error;
  auto doc = json::Parse(ss.str(), &parse_error);
  if (!doc) {
    if (error) *error = fmt::format("token file {}: {}", path_, parse_error);
    return false;
  }
  const json::Value* clusters = json::Find(*doc, {"clusters"});
  if (!clusters || !clusters->IsArray()) {
    if (error) *error = fmt::format("token file {}: \"clusters\" must be an array", path_);
    return false;
  }
  std::vector<Entry> entries;
  size_t index = 0;
  for (const auto& c : clusters->GetArray()) {
    Entry e;
    e.cluster = json::GetString(c, {"name"});
    e.disabled = json::GetBool(c, {"disabled"});
    std::string token = json::GetString(c, {"token"});
    std::string hex = json::GetString(c, {"tokenSha256"});
    if (e.cluster.empty() || (token.empty() == hex.empty())) {
      if (error) {
        *error = fmt::format(
            "token file {}: clusters[{}] needs a name and exactly one of token, tokenSha256", path_,
            index);
      }
      return false;
    }
    if (!token.empty()) {
      e.digest = Sha256(token);
    } else if (!HexDecode(hex, &e.digest) || e.digest.size() != SHA256_DIGEST_LENGTH) {
      if (error) {
        *error = fmt::format("token file {}: clusters[{}].tokenSha256 is not 64 hex digits", path_,
                             index);
      }
      return false;
    }
    entries.push_back(std::move(e));
    ++index;
  }
  entries_ = std::move(entries);
  mtime_ = st.st_mtim;
  return true;
}

std::optional<TokenMatch> TokenStore::Lookup(std::string_view token) {
  std::lock_guard lock(mu_);
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 &&
      (st.st_mtim.tv_sec != mtime_.tv_sec || st.st_mtim.tv_nsec != mtime_.tv_nsec)) {
    std::string error;
    if (LoadLocked(&error)) {
      log::Info("token file reloaded", {{"path", path_}, {"clusters", entries_.size()}});
    } else {
      log::Warn("token file reload failed; keeping the previous tokens", {{"error", error}});
      mtime_ = st.st_mtim;  // do not retry on every lookup until it changes again
    }
  }
  if (token.empty()) return std::nullopt;
  std::string digest = Sha256(token);
  std::optional<TokenMatch> match;
  // Compare against every entry, in constant time per entry.
  for (const Entry& e : entries_) {
    if (CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0 && !match) {
      match = TokenMatch{e.cluster, e.disabled};
    }
  }
  return match;
}

size_t TokenStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace srexpert::hub
