#include "controller/bootstrap.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "api/agent_config.h"
#include "common/log.h"
#include "common/yaml_documents.h"

namespace srexpert::controller {

namespace {

constexpr char kApiVersion[] = "agent.srexpert.io/v1alpha1";
constexpr char kKind[] = "AgentConfig";

// YAML 1.2 core schema for plain (unquoted) scalars; quoted ones are strings.
json::Value Scalar(const YAML::Node& node, json::Allocator& alloc) {
  const std::string& s = node.Scalar();
  if (node.Tag() != "!") {  // plain scalar
    static const std::regex kInt("[-+]?[0-9]+");
    static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
    if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return json::Value();
    if (s == "true" || s == "True" || s == "TRUE") return json::Value(true);
    if (s == "false" || s == "False" || s == "FALSE") return json::Value(false);
    try {
      if (std::regex_match(s, kInt)) return json::Value(static_cast<int64_t>(std::stoll(s)));
      if (std::regex_match(s, kFloat)) return json::Value(std::stod(s));
    } catch (const std::exception&) {
      // Out of range: keep the text.
    }
  }
  return json::String(s, alloc);
}

json::Value ToJson(const YAML::Node& node, json::Allocator& alloc) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json::Value obj(rapidjson::kObjectType);
      for (const auto& kv : node) {
        json::Set(obj, kv.first.as<std::string>(), ToJson(kv.second, alloc), alloc);
      }
      return obj;
    }
    case YAML::NodeType::Sequence: {
      json::Value arr(rapidjson::kArrayType);
      for (const auto& item : node) arr.PushBack(ToJson(item, alloc), alloc);
      return arr;
    }
    case YAML::NodeType::Scalar:
      return Scalar(node, alloc);
    default:
      return json::Value();
  }
}

// Removes every occurrence of `secret` from `text` (a server message may echo
// an invalid inline token back).
std::string Redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at; (at = text.find(secret)) != std::string::npos;) {
    text.replace(at, secret.size(), "[redacted]");
  }
  return text;
}

bool HasOwnerUid(const json::Value& obj, const std::string& uid) {
  const auto* refs = json::Find(obj, {"metadata"});
  if (!refs || !refs->HasMember("ownerReferences") || !(*refs)["ownerReferences"].IsArray()) {
    return false;
  }
  for (const auto& r : (*refs)["ownerReferences"].GetArray()) {
    if (json::GetString(r, {"uid"}) == uid) return true;
  }
  return false;
}

// Failures that waiting can cure: the server, the network, RBAC that is
// still being applied, a namespace or CRD that is not there yet.
bool WorthRetrying(const kube::Error& e) {
  return e.retryable() || e.reason() == kube::Reason::kForbidden ||
         e.reason() == kube::Reason::kUnauthorized || e.IsNotFound() || e.IsConflict();
}

}  // namespace

std::optional<json::Document> ParseBootstrapAgentConfig(const std::string& text,
                                                        const std::string& source,
                                                        const std::string& ns, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<json::Document> {
    *error = source + ": " + why;
    return std::nullopt;
  };
  json::Document doc;
  try {
    std::vector<YAML::Node> docs;
    yaml::LoadError load_error;
    // Not YAML::LoadAll: yaml-cpp 0.7 loops without end on some input.
    if (!yaml::LoadAllDocuments(text, 16, &docs, &load_error)) {
      return fail("not valid YAML or JSON (line " + std::to_string(load_error.line + 1) + ")");
    }
    std::vector<YAML::Node> objects;
    for (const auto& d : docs) {
      if (!d.IsNull()) objects.push_back(d);
    }
    if (objects.size() != 1) {
      return fail("expected exactly one YAML or JSON document, found " +
                  std::to_string(objects.size()));
    }
    if (!objects[0].IsMap()) return fail("the document is not an object");
    json::Value v = ToJson(objects[0], doc.GetAllocator());
    doc.CopyFrom(v, doc.GetAllocator());
  } catch (const YAML::Exception& e) {
    // The mark says where; the message does not quote the content.
    return fail("not valid YAML or JSON (line " + std::to_string(e.mark.line + 1) + ")");
  }
  if (json::GetString(doc, {"apiVersion"}) != kApiVersion) {
    return fail(std::string("apiVersion must be ") + kApiVersion);
  }
  if (json::GetString(doc, {"kind"}) != kKind) return fail("kind must be AgentConfig");
  if (json::GetString(doc, {"metadata", "name"}).empty()) return fail("metadata.name is required");
  std::string doc_ns = json::GetString(doc, {"metadata", "namespace"});
  if (doc_ns.empty()) {
    json::SetString(json::EnsureObject(doc, {"metadata"}, doc.GetAllocator()), "namespace", ns,
                    doc.GetAllocator());
  } else if (doc_ns != ns) {
    return fail("metadata.namespace is " + doc_ns + ", but the operator reconciles " + ns);
  }
  // The operator's own validation, on the object as the API would return it.
  json::Document check = json::Clone(doc);
  json::SetString(json::EnsureObject(check, {"metadata"}, check.GetAllocator()), "uid",
                  "00000000-0000-0000-0000-000000000000", check.GetAllocator());
  api::ParseResult parsed = api::Parse(check);
  if (!parsed.ok()) return fail("invalid AgentConfig: " + parsed.Summary());
  return doc;
}

std::optional<json::Document> LoadBootstrapAgentConfig(const std::string& path,
                                                       const std::string& ns, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot read the file";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseBootstrapAgentConfig(ss.str(), path, ns, error);
}

StartupTasks::StartupTasks(kube::RestClient& client, StartupOptions options)
    : client_(client), options_(std::move(options)) {}

void StartupTasks::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool StartupTasks::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

bool StartupTasks::Backoff(BackoffSchedule& schedule) {
  auto delay = schedule.Next();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, delay, [&] { return stop_; });
  return !stop_;
}

StartupTasks::Outcome StartupTasks::CreateAgentConfig(const json::Value& agent_config) {
  const std::string ns = json::GetString(agent_config, {"metadata", "namespace"});
  const std::string name = json::GetString(agent_config, {"metadata", "name"});
  const std::string inline_token = json::GetString(agent_config, {"spec", "token", "value"});
  BackoffSchedule schedule(options_.backoff, random_);
  bool said_waiting = false;
  for (;;) {
    if (stopped()) return Outcome::kStopped;
    // Discovery re-fetches a group-version whose kind it has not seen, so
    // this notices the CRD as soon as it is served.
    auto served = client_.Resolve(kApiVersion, kKind);
    if (!served.ok()) {
      if (!said_waiting) {
        log::Info("bootstrap: waiting for the AgentConfig CRD to be served",
                  {{"error", served.error().ToString()}});
        said_waiting = true;
      }
      if (!Backoff(schedule)) return Outcome::kStopped;
      continue;
    }
    auto created = client_.Create(agent_config, {.field_manager = options_.field_manager});
    if (created.ok()) {
      log::Info("bootstrap: created the AgentConfig", {{"namespace", ns}, {"name", name}});
      return Outcome::kCreated;
    }
    const kube::Error& e = created.error();
    if (e.IsAlreadyExists()) {
      log::Info("bootstrap: the AgentConfig exists; leaving it as it is",
                {{"namespace", ns}, {"name", name}});
      return Outcome::kAlreadyExists;
    }
    if (e.IsInvalid() || e.reason() == kube::Reason::kBadRequest) {
      log::Error("bootstrap: the API server rejected the bootstrap AgentConfig; fix the file",
                 {{"namespace", ns}, {"name", name},
                  {"error", Redact(e.ToString(), inline_token)}});
      return Outcome::kRejected;
    }
    if (e.IsNotFound()) client_.InvalidateDiscovery();  // CRD deleted, or namespace missing
    log::Warn("bootstrap: cannot create the AgentConfig yet; retrying",
              {{"namespace", ns}, {"name", name}, {"error", Redact(e.ToString(), inline_token)},
               {"retryable", WorthRetrying(e)}});
    if (!Backoff(schedule)) return Outcome::kStopped;
  }
}

kube::Result<bool> StartupTasks::OwnOne(const kube::ObjectRef& ref, const std::string& ns_uid,
                                        const std::string& ns) {
  auto live = client_.Get(ref);
  if (!live.ok()) {
    if (live.error().IsNotFound()) {
      log::Warn("owner: object not found; nothing to own",
                {{"kind", ref.kind}, {"name", ref.name}});
      return true;
    }
    return live.error();
  }
  if (HasOwnerUid(*live, ns_uid)) return true;  // a restart: no write
  // A merge patch replaces the whole list, so send the existing entries too
  // and guard with the resourceVersion against a concurrent change.
  json::Document patch(rapidjson::kObjectType);
  auto& alloc = patch.GetAllocator();
  json::Value refs(rapidjson::kArrayType);
  if (const auto* meta = json::Find(*live, {"metadata"});
      meta && meta->HasMember("ownerReferences") && (*meta)["ownerReferences"].IsArray()) {
    for (const auto& r : (*meta)["ownerReferences"].GetArray()) {
      refs.PushBack(json::Value(r, alloc), alloc);
    }
  }
  json::Value owner(rapidjson::kObjectType);
  json::SetString(owner, "apiVersion", "v1", alloc);
  json::SetString(owner, "kind", "Namespace", alloc);
  json::SetString(owner, "name", ns, alloc);
  json::SetString(owner, "uid", ns_uid, alloc);
  // No blockOwnerDeletion: it would need update on namespaces/finalizers.
  refs.PushBack(owner, alloc);
  json::Value& meta = json::EnsureObject(patch, {"metadata"}, alloc);
  json::SetString(meta, "resourceVersion", json::GetString(*live, {"metadata", "resourceVersion"}),
                  alloc);
  json::Set(meta, "ownerReferences", std::move(refs), alloc);
  auto patched = client_.Patch(ref, kube::PatchType::kMerge, json::Dump(patch));
  if (!patched.ok()) return patched.error();
  log::Info("owner: the Namespace now owns the object, so deleting the namespace removes it",
            {{"kind", ref.kind}, {"name", ref.name}, {"namespace", ns}});
  return true;
}

bool StartupTasks::OwnByNamespace(const std::string& ns,
                                  const std::vector<kube::ObjectRef>& objects) {
  BackoffSchedule schedule(options_.backoff, random_);
  std::string ns_uid;
  std::vector<kube::ObjectRef> todo = objects;
  while (!todo.empty()) {
    if (stopped()) return false;
    if (ns_uid.empty()) {
      auto got = client_.Get({"v1", "Namespace", "", ns});
      if (got.ok()) {
        ns_uid = json::GetString(*got, {"metadata", "uid"});
      } else {
        log::Warn("owner: cannot read the operator's Namespace; retrying",
                  {{"namespace", ns}, {"error", got.error().ToString()}});
        if (!Backoff(schedule)) return false;
        continue;
      }
    }
    auto done = OwnOne(todo.front(), ns_uid, ns);
    if (done.ok()) {
      todo.erase(todo.begin());
      schedule.Reset();
      continue;
    }
    log::Warn("owner: cannot set the Namespace as owner; retrying",
              {{"kind", todo.front().kind}, {"name", todo.front().name},
               {"error", done.error().ToString()}});
    if (!Backoff(schedule)) return false;
  }
  return true;
}

}  // namespace srexpert::controller
