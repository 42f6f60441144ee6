#include "hub/api_users.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/json.h"

namespace srexpert::hub {

namespace {

bool PrintableName(std::string_view s) {
  return !s.empty() && s.size() <= 128 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c <= '~'; });
}

}  // namespace

std::string_view RoleName(ApiRole role) {
  return role == ApiRole::kOperator ? "operator" : "viewer";
}

bool ApiUser::MaySee(std::string_view cluster) const {
  return clusters.empty() || std::find(clusters.begin(), clusters.end(), cluster) != clusters.end();
}

ApiUserStore::ApiUserStore(std::string path) : file_(std::move(path), "users file") {}

bool ApiUserStore::Load(std::string* error) {
  std::lock_guard lock(mu_);
  return LoadLocked(error);
}

bool ApiUserStore::LoadLocked(std::string* error) {
  std::string problem;
  auto fail = [&](std::string message) {
    if (error) *error = std::move(message);
    return false;
  };
  auto doc = file_.ReadArrayMember("users", &problem);
  if (!doc) return fail(problem);
  std::vector<Entry> entries;
  std::set<std::string> names;
  size_t index = 0;
  for (const auto& u : (*doc)["users"].GetArray()) {
    std::string where = fmt::format("users file {}: users[{}]", file_.path(), index++);
    if (!u.IsObject()) return fail(where + " must be an object");
    for (const auto& m : u.GetObject()) {
      std::string_view key(m.name.GetString(), m.name.GetStringLength());
      if (key != "name" && key != "token" && key != "tokenSha256" && key != "role" &&
          key != "clusters") {
        // A misspelt "clusters" must not silently widen a user to all.
        return fail(fmt::format("{}: unknown member \"{}\"", where, key));
      }
    }
    Entry e;
    e.user.name = json::GetString(u, {"name"});
    if (!PrintableName(e.user.name)) {
      return fail(where + ".name must be 1..128 printable ASCII characters");
    }
    if (!names.insert(e.user.name).second) {
      return fail(fmt::format("{}: duplicate name \"{}\"", where, e.user.name));
    }
    std::string role = json::GetString(u, {"role"});
    if (role == "viewer") {
      e.user.role = ApiRole::kViewer;
    } else if (role == "operator") {
      e.user.role = ApiRole::kOperator;
    } else {
      return fail(where + ".role must be \"viewer\" or \"operator\"");
    }
    if (const json::Value* clusters = json::Find(u, {"clusters"})) {
      if (!clusters->IsArray() || clusters->Empty()) {
        return fail(where + ".clusters must be a non-empty array of cluster names (omit it for all)");
      }
      for (const auto& c : clusters->GetArray()) {
        if (!c.IsString() || c.GetStringLength() == 0) {
          return fail(where + ".clusters must hold non-empty strings");
        }
        e.user.clusters.emplace_back(c.GetString(), c.GetStringLength());
      }
    }
    if (!ReadTokenDigest(u, where, &e.digest, &problem)) return fail(problem);
    entries.push_back(std::move(e));
  }
  entries_ = std::move(entries);
  return true;
}

std::optional<ApiUser> ApiUserStore::Authenticate(std::string_view token) {
  std::lock_guard lock(mu_);
  ReloadIfChanged(file_, [this](std::string* error) { return LoadLocked(error); });
  if (token.empty()) return std::nullopt;
  const std::string digest = Sha256(token);
  std::optional<ApiUser> match;
  // Every entry is compared, each in constant time: the answer's timing
  // does not depend on where (or whether) the token is listed.
  for (const Entry& e : entries_) {
    if (SameDigest(e.digest, digest) && !match) match = e.user;
  }
  return match;
}

size_t ApiUserStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace srexpert::hub
