#include "test/real/differential.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "kube/config.h"
#include "test/apiserver/api_server.h"
#include "test/real/real_cluster.h"

namespace srexpert::testing::diff {
namespace {

using namespace std::chrono_literals;

constexpr char kAbsent[] = "<absent>";

std::string RandomSuffix() {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 6; ++i) s.push_back(kAlphabet[rd() % (sizeof(kAlphabet) - 1)]);
  return s;
}

bool IsTimeKey(std::string_view key) {
  return key == "creationTimestamp" || key == "deletionTimestamp" || key == "time" ||
         key == "lastTransitionTime";
}

// Members sorted by name, recursively: both servers' observations print in
// the same order, whatever order each server wrote its fields in.
json::Value Canonical(const json::Value& v, json::Allocator& a) {
  if (v.IsObject()) {
    std::vector<const json::Value::Member*> members;
    for (const auto& m : v.GetObject()) members.push_back(&m);
    std::sort(members.begin(), members.end(), [](auto* x, auto* y) {
      return std::string_view(x->name.GetString(), x->name.GetStringLength()) <
             std::string_view(y->name.GetString(), y->name.GetStringLength());
    });
    json::Value out(rapidjson::kObjectType);
    for (const auto* m : members) {
      out.AddMember(json::Value(m->name, a), Canonical(m->value, a), a);
    }
    return out;
  }
  if (v.IsArray()) {
    json::Value out(rapidjson::kArrayType);
    for (const auto& item : v.GetArray()) out.PushBack(Canonical(item, a), a);
    return out;
  }
  return json::Value(v, a);
}

std::string Pretty(const json::Value& v) {
  json::Document d;
  json::Value c = Canonical(v, d.GetAllocator());
  return json::DumpPretty(c);
}

// "path: kube-apiserver <a> | test server <b>" for every differing leaf.
void Differences(const json::Value* a, const json::Value* b, const std::string& path,
                 std::vector<std::string>& out) {
  auto show = [](const json::Value* v) { return v ? json::Dump(*v) : std::string("(missing)"); };
  if (a && b && a->IsObject() && b->IsObject()) {
    std::set<std::string> keys;
    for (const auto& m : a->GetObject()) keys.insert(m.name.GetString());
    for (const auto& m : b->GetObject()) keys.insert(m.name.GetString());
    for (const auto& k : keys) {
      auto ia = a->FindMember(k.c_str());
      auto ib = b->FindMember(k.c_str());
      Differences(ia == a->MemberEnd() ? nullptr : &ia->value,
                  ib == b->MemberEnd() ? nullptr : &ib->value, path + "/" + k, out);
    }
    return;
  }
  if (a && b && a->IsArray() && b->IsArray() && a->Size() == b->Size()) {
    for (rapidjson::SizeType i = 0; i < a->Size(); ++i) {
      Differences(&(*a)[i], &(*b)[i], path + "/" + std::to_string(i), out);
    }
    return;
  }
  if (a && b && json::Equal(*a, *b)) return;
  out.push_back(path + ":\n    kube-apiserver: " + show(a) + "\n    test server:    " + show(b));
}

std::set<std::string>& Ids() {
  static std::set<std::string> ids;
  return ids;
}
std::vector<std::string>& Duplicates() {
  static std::vector<std::string> dups;
  return dups;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

Api::Api(std::string server_name, kube::RestConfig config, std::string ns)
    : server_name_(std::move(server_name)), config_(std::move(config)), ns_(std::move(ns)) {
  auto http = kube::HttpTransport::New(config_);
  if (!http.ok()) FAIL(server_name_ << ": " << http.error().ToString());
  http_ = std::move(*http);
}

Api::~Api() = default;

Response Api::Call(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& content_type) {
  kube::HttpRequest req;
  req.method = method;
  req.path = path;
  req.body = body;
  if (!body.empty()) req.content_type = content_type;
  req.bearer_token = config_.bearer_token;
  auto sent = http_->Send(req);
  if (!sent.ok()) FAIL(server_name_ << ": " << method << " " << path << ": " << sent.error().ToString());
  Response r;
  r.code = sent->status;
  r.text = sent->body;
  if (auto doc = json::Parse(r.text)) r.body = std::move(*doc);
  return r;
}

std::string Api::Path(const std::string& api_version, const std::string& resource,
                      const std::string& name) const {
  std::string p = (api_version == "v1" ? "/api/v1" : "/apis/" + api_version) + "/namespaces/" +
                  ns_ + "/" + resource;
  return name.empty() ? p : p + "/" + name;
}

std::optional<json::Document> Api::Watch::Next(std::chrono::milliseconds idle) {
  if (ended_) return std::nullopt;
  while (true) {
    auto line = stream_->ReadLine(idle);
    if (!line.ok() || !line->has_value()) {
      // kTimeout: nothing within `idle`; otherwise the stream is over.
      if (line.ok() || line.error().reason() != kube::Reason::kTimeout) ended_ = true;
      return std::nullopt;
    }
    if (Trim(**line).empty()) continue;
    auto doc = json::Parse(**line);
    if (!doc) FAIL("watch event is not JSON: " << **line);
    return std::move(*doc);
  }
}

std::unique_ptr<Api::Watch> Api::OpenWatch(const std::string& path) {
  auto w = std::make_unique<Watch>();
  kube::HttpRequest req;
  req.method = "GET";
  req.path = path;
  req.bearer_token = config_.bearer_token;
  auto stream = http_->Open(req, w->cancel_);
  if (!stream.ok()) FAIL(server_name_ << ": watch " << path << ": " << stream.error().ToString());
  w->stream_ = std::move(*stream);
  return w;
}

std::string Api::RvLabel(const std::string& rv) {
  if (rv.empty()) return rv;
  auto [it, inserted] = rv_labels_.emplace(rv, "");
  if (inserted) it->second = "rv#" + std::to_string(rv_labels_.size());
  return it->second;
}

std::string Api::UidLabel(const std::string& uid) {
  if (uid.empty()) return uid;
  auto [it, inserted] = uid_labels_.emplace(uid, "");
  if (inserted) it->second = "uid#" + std::to_string(uid_labels_.size());
  return it->second;
}

std::string Api::NormString(const std::string& s) {
  std::string out = s;
  for (size_t pos = out.find(ns_); pos != std::string::npos; pos = out.find(ns_, pos + 3)) {
    out.replace(pos, ns_.size(), "$NS");
  }
  // Replaces each match of `re`'s first group by label(match).
  auto relabel = [&](const std::regex& re, const std::function<std::string(const std::string&)>& label) {
    std::string result;
    auto begin = out.cbegin();
    std::smatch m;
    while (std::regex_search(begin, out.cend(), m, re)) {
      result.append(begin, m[1].first);
      result += label(m[1].str());
      begin = m[1].second;
    }
    result.append(begin, out.cend());
    out = result;
  };
  static const std::regex kUuid("([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})");
  relabel(kUuid, [&](const std::string& u) { return UidLabel(u); });
  static const std::regex kPrecondition("ResourceVersion in (?:the precondition|record) \\(([0-9]+)\\)");
  relabel(kPrecondition, [&](const std::string& rv) { return RvLabel(rv); });
  // The oldest resourceVersion of a watch window is the server's choice.
  static const std::regex kTooOld("too old resource version: [0-9]+ \\([0-9]+\\)");
  out = std::regex_replace(out, kTooOld, "too old resource version: N (M)");
  return out;
}

json::Document Api::Norm(const json::Value& v) {
  json::Document d;
  d.CopyFrom(v, d.GetAllocator());
  auto& a = d.GetAllocator();
  std::function<void(json::Value&, std::string_view)> walk = [&](json::Value& x,
                                                                std::string_view key) {
    if (x.IsString()) {
      std::string s(x.GetString(), x.GetStringLength());
      if (key == "uid") s = UidLabel(s);
      else if (key == "resourceVersion") s = RvLabel(s);
      else if (IsTimeKey(key)) s = "<time>";
      else s = NormString(s);
      x.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
    } else if (x.IsObject()) {
      for (auto& m : x.GetObject()) {
        walk(m.value, std::string_view(m.name.GetString(), m.name.GetStringLength()));
      }
    } else if (x.IsArray()) {
      for (auto& item : x.GetArray()) walk(item, key);
    }
  };
  if (d.IsObject()) {
    // A list's resourceVersion is the cluster's current one (global, moved
    // by every controller of a real cluster): not comparable. Same for a
    // bookmark's.
    if (d.HasMember("items") && d.HasMember("metadata") && d["metadata"].IsObject()) {
      auto& meta = d["metadata"];
      if (meta.HasMember("resourceVersion")) json::SetString(meta, "resourceVersion", "<list-rv>", a);
      if (meta.HasMember("continue") && meta["continue"].IsString()) {
        json::SetString(meta, "continue", "<continue>", a);
      }
    }
    if (json::GetString(d, {"type"}) == "BOOKMARK") {
      if (auto* meta = json::FindMutable(d, {"object", "metadata"}); meta && meta->IsObject()) {
        if (meta->HasMember("resourceVersion")) {
          json::SetString(*meta, "resourceVersion", "<bookmark-rv>", a);
        }
      }
    }
  }
  walk(d, "");
  return d;
}

void Api::RunCleanup() {
  for (auto it = cleanup_.rbegin(); it != cleanup_.rend(); ++it) Delete(*it);
  cleanup_.clear();
}

void Observation::Set(const std::string& step, const json::Value& value) {
  auto& a = doc_.GetAllocator();
  json::Set(doc_, step, json::Value(value, a), a);
}

void Observation::Set(const std::string& step, const std::string& value) {
  json::SetString(doc_, step, value, doc_.GetAllocator());
}

void Observation::Set(const std::string& step, int64_t value) {
  json::Set(doc_, step, json::Value(value), doc_.GetAllocator());
}

void Observation::Set(const std::string& step, bool value) {
  json::Set(doc_, step, json::Value(value), doc_.GetAllocator());
}

json::Document StatusOf(Api& api, const Response& r) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Set(d, "code", json::Value(r.code), a);
  if (!r.body.IsObject()) {
    json::SetString(d, "text", api.NormString(r.text), a);
    return d;
  }
  if (json::GetString(r.body, {"kind"}) != "Status") {
    json::SetString(d, "kind", json::GetString(r.body, {"kind"}, kAbsent), a);
    return d;
  }
  for (const char* key : {"status", "reason", "message"}) {
    if (r.body.HasMember(key)) json::Set(d, key, json::Value(api.Norm(r.body[key]), a), a);
  }
  if (r.body.HasMember("details")) {
    json::Set(d, "details", json::Value(api.Norm(r.body["details"]), a), a);
  }
  return d;
}

json::Document At(Api& api, const json::Value& v, const std::string& path) {
  const json::Value* cur = &v;
  std::stringstream ss(path);
  std::string seg;
  while (cur && std::getline(ss, seg, '.')) {
    std::optional<size_t> index;
    if (auto br = seg.find('['); br != std::string::npos) {
      index = std::stoul(seg.substr(br + 1));
      seg = seg.substr(0, br);
    }
    if (!seg.empty()) {
      if (!cur->IsObject()) {
        cur = nullptr;
        break;
      }
      auto it = cur->FindMember(seg.c_str());
      cur = it == cur->MemberEnd() ? nullptr : &it->value;
    }
    if (cur && index) cur = cur->IsArray() && *index < cur->Size() ? &(*cur)[*index] : nullptr;
  }
  if (!cur) {
    json::Document d;
    d.SetString(kAbsent, d.GetAllocator());
    return d;
  }
  // Normalize with the key the value sits under (uid, resourceVersion, ...).
  std::string last = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
  json::Document wrapper(rapidjson::kObjectType);
  json::Set(wrapper, last, json::Value(*cur, wrapper.GetAllocator()), wrapper.GetAllocator());
  json::Document normed = api.Norm(wrapper);
  json::Document out;
  out.CopyFrom(normed[last.c_str()], out.GetAllocator());
  return out;
}

json::Document Fields(Api& api, const Response& r, const std::vector<std::string>& paths) {
  if (r.code >= 300 || !r.body.IsObject()) return StatusOf(api, r);
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Set(d, "code", json::Value(r.code), a);
  for (const auto& p : paths) json::Set(d, p, json::Value(At(api, r.body, p), a), a);
  return d;
}

json::Document Json(const std::string& text) {
  std::string err;
  auto doc = json::Parse(text, &err);
  if (!doc) FAIL("bad JSON in scenario: " << err << ": " << text);
  return std::move(*doc);
}

bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return pred();
}

bool RegisterScenarioId(const std::string& id) {
  if (!Ids().insert(id).second) Duplicates().push_back(id);
  return true;
}

const std::set<std::string>& ScenarioIds() {
  for (const auto& d : Duplicates()) FAIL("differential scenario id used twice: " << d);
  return Ids();
}

std::map<std::string, std::string> KnownGaps() {
  std::ifstream in(SRX_SOURCE_DIR "/docs/testing.md");
  REQUIRE(in.good());
  std::map<std::string, std::string> gaps;
  std::string line;
  int level = 0;  // of the section's heading; 0 = not inside it
  bool found = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#') {
      int l = static_cast<int>(line.find_first_not_of('#'));
      if (level > 0 && l <= level) level = 0;
      if (line.find("Differences from kube-apiserver") != std::string::npos) {
        level = l;
        found = true;
      }
      continue;
    }
    if (level == 0 || line.rfind("|", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) cells.push_back(Trim(cell));
    if (cells.size() < 2 || cells[0].size() < 3 || cells[0].front() != '`' || cells[0].back() != '`') {
      continue;  // header and separator rows
    }
    gaps[cells[0].substr(1, cells[0].size() - 2)] = cells[1];
  }
  INFO("docs/testing.md has no \"Differences from kube-apiserver\" section");
  REQUIRE(found);
  return gaps;
}

void RunDifferential(const std::string& id, ScenarioFn fn) {
  auto real_config = kube::LoadKubeconfig(real::AdminKubeconfig());
  REQUIRE(real_config.ok());
  ApiServer loopback;
  loopback.Start();
  auto test_config = kube::LoadKubeconfig(loopback.KubeconfigFile());
  REQUIRE(test_config.ok());
  const std::string ns = "diff-" + RandomSuffix();

  auto run = [&](const std::string& name, const kube::RestConfig& config) {
    Api api(name, config, ns);
    auto created = api.Post("/api/v1/namespaces",
                            R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + ns +
                                R"("}})");
    INFO(name << ": creating namespace " << ns << ": " << created.text);
    REQUIRE(created.code == 201);
    Observation o = fn(api);
    api.RunCleanup();
    // Best effort: the real cluster's namespace controller empties it.
    api.Delete("/api/v1/namespaces/" + ns);
    json::Document out;
    out.CopyFrom(o.doc(), out.GetAllocator());
    return out;
  };
  json::Document real = run("kube-apiserver", *real_config);
  json::Document test = run("test server", *test_config);

  std::vector<std::string> diffs;
  Differences(&real, &test, "", diffs);
  std::string listing;
  for (const auto& d : diffs) listing += "  " + d + "\n";
  std::string report = "scenario " + id + "\nkube-apiserver observed:\n" + Pretty(real) +
                       "\ntest server observed:\n" + Pretty(test) + "\ndifferences:\n" + listing;
  if (std::getenv("SRX_DIFF_PRINT")) std::printf("%s\n", report.c_str());

  auto gaps = KnownGaps();
  auto gap = gaps.find(id);
  if (gap == gaps.end()) {
    if (!diffs.empty()) FAIL(report);
    SUCCEED("both servers agree");
  } else if (diffs.empty()) {
    FAIL("gap closed: " << id
                        << " is listed in docs/testing.md (Differences from kube-apiserver) but "
                           "both servers now agree; remove it from the table\n"
                        << report);
  } else {
    WARN("known gap " << id << " (" << gap->second << "):\n" << listing);
  }
}

}  // namespace srexpert::testing::diff
