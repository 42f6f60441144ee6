#include "hub/token_store.h"

#include <fmt/format.h>

#include "common/json.h"

namespace srexpert::hub {

TokenStore::TokenStore(std::string path) : file_(std::move(path), "token file") {}

bool TokenStore::Load(std::string* error) {
  std::lock_guard lock(mu_);
  return LoadLocked(error);
}

bool TokenStore::LoadLocked(std::string* error) {
  std::string problem;
  auto fail = [&](std::string message) {
    if (error) *error = std::move(message);
    return false;
  };
  auto doc = file_.ReadArrayMember("clusters", &problem);
  if (!doc) return fail(problem);
  std::vector<Entry> entries;
  size_t index = 0;
  for (const auto& c : (*doc)["clusters"].GetArray()) {
    Entry e;
    e.cluster = json::GetString(c, {"name"});
    e.disabled = json::GetBool(c, {"disabled"});
    std::string where = fmt::format("token file {}: clusters[{}]", file_.path(), index);
    if (e.cluster.empty()) return fail(where + " needs a name");
    if (!ReadTokenDigest(c, where, &e.digest, &problem)) return fail(problem);
    entries.push_back(std::move(e));
    ++index;
  }
  entries_ = std::move(entries);
  return true;
}

std::optional<TokenMatch> TokenStore::Lookup(std::string_view token) {
  std::lock_guard lock(mu_);
  ReloadIfChanged(file_, [this](std::string* error) { return LoadLocked(error); });
  if (token.empty()) return std::nullopt;
  std::string digest = Sha256(token);
  std::optional<TokenMatch> match;
  // Compare against every entry, in constant time per entry.
  for (const Entry& e : entries_) {
    if (SameDigest(e.digest, digest) && !match) match = TokenMatch{e.cluster, e.disabled};
  }
  return match;
}

size_t TokenStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace srexpert::hub
