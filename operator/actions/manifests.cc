#include "actions/manifests.h"

#include <optional>
#include <set>
#include <string_view>
#include <tuple>

#include "api/validation.h"
#include "kube/rest_client.h"
#include "scan/manifests.h"

namespace srexpert::actions {

namespace {

// What applyManifests may write: the permission catalogue's WritableKinds
// (controller/permissions.cc) by kind. The resource is what discovery must
// resolve the kind to, so a server mapping a kind elsewhere is refused rather
// than written with a role that does not cover it.
struct AllowedKind {
  std::string_view group;
  std::string_view kind;
  std::string_view resource;
};

constexpr AllowedKind kAllowedKinds[] = {
    {"", "ConfigMap", "configmaps"},
    {"", "Service", "services"},
    {"apps", "Deployment", "deployments"},
    {"apps", "StatefulSet", "statefulsets"},
    {"apps", "DaemonSet", "daemonsets"},
    {"batch", "Job", "jobs"},
    {"batch", "CronJob", "cronjobs"},
    {"networking.k8s.io", "Ingress", "ingresses"},
    {"networking.k8s.io", "NetworkPolicy", "networkpolicies"},
    {"autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"},
};

std::string_view GroupOf(std::string_view api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

const AllowedKind* FindAllowed(std::string_view api_version, std::string_view kind) {
  std::string_view group = GroupOf(api_version);
  for (const auto& a : kAllowedKinds) {
    if (a.group == group && a.kind == kind) return &a;
  }
  return nullptr;
}

std::string AllowedList() {
  std::string out;
  for (const auto& a : kAllowedKinds) {
    if (!out.empty()) out += ", ";
    out += a.group.empty() ? std::string(a.kind) : std::string(a.kind) + "." + std::string(a.group);
  }
  return out;
}

// ---- errors ------------------------------------------------------------------

// A 409 from server-side apply carries one FieldManagerConflict cause per
// field ("conflict with \"kubectl\" using v1", field ".data.key"): the
// backend shows who owns what, so the user can decide to force.
std::string ConflictMessage(const kube::Error& e, const Target& t) {
  constexpr size_t kMaxNamed = 20;
  std::string fields;
  size_t named = 0, total = 0;
  for (const auto& c : e.causes()) {
    if (c.type != "FieldManagerConflict") continue;
    ++total;
    if (named == kMaxNamed) continue;
    std::string manager = c.message;
    constexpr std::string_view kPrefix = "conflict with ";
    if (manager.rfind(kPrefix, 0) == 0) manager = manager.substr(kPrefix.size());
    fields += (named ? "; " : "") + c.field + " owned by " + manager;
    ++named;
  }
  if (total == 0) return t.Describe() + ": " + e.message();
  if (total > named) fields += "; and " + std::to_string(total - named) + " more";
  return t.Describe() + ": apply conflicts with other field managers: " + fields +
         " (set force to take ownership)";
}

// An apply's error as the action's failure; the rest as every action has them.
ActionResult ApplyFailure(const kube::Error& e, const Target& t) {
  if (e.reason() == kube::Reason::kConflict) {
    return ActionResult::Fail(codes::kConflict, ConflictMessage(e, t));
  }
  if (e.reason() == kube::Reason::kNotFound) {
    // Apply creates missing objects: a 404 is a missing namespace.
    return ActionResult::Fail(codes::kNotFound, t.Describe() + ": " + e.message());
  }
  return FromKubeError(e, t.Describe());
}

std::optional<ActionResult> Stopped(const CancelToken& cancel) {
  if (cancel.Cancelled()) return ActionResult::Fail(codes::kCancelled, "the tunnel session ended");
  if (cancel.Expired()) return ActionResult::Fail(codes::kTimeout, "deadline passed");
  return std::nullopt;
}

// ---- diff ----------------------------------------------------------------------

constexpr size_t kMaxDiffEntries = 50;
constexpr size_t kMaxDiffValueBytes = 1024;
constexpr size_t kMaxDiffBytes = 512u << 10;

// The object without what the server maintains itself: what remains changes
// only because a manifest said so.
json::Document Comparable(const json::Value& object) {
  json::Document d = json::Clone(object);
  if (d.IsObject()) {
    json::Remove(d, "status");
    if (auto* meta = json::FindMutable(d, {"metadata"})) {
      for (const char* k :
           {"managedFields", "resourceVersion", "generation", "creationTimestamp"}) {
        json::Remove(*meta, k);
      }
    }
  }
  return d;
}

// managedFields without the per-entry timestamps: whether ownership changes.
json::Document Ownership(const json::Value& object) {
  json::Document d(rapidjson::kArrayType);
  if (const auto* mf = json::Find(object, {"metadata", "managedFields"}); mf && mf->IsArray()) {
    d.CopyFrom(*mf, d.GetAllocator());
    for (auto& e : d.GetArray()) {
      if (e.IsObject()) json::Remove(e, "time");
    }
  }
  return d;
}

std::string PointerToken(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

class DiffWriter {
 public:
  DiffWriter(json::Allocator& alloc, size_t* budget) : alloc_(alloc), budget_(budget) {}

  void Walk(const json::Value* old_v, const json::Value* new_v, const std::string& path) {
    if (old_v && new_v) {
      if (old_v->IsObject() && new_v->IsObject()) {
        for (auto it = old_v->MemberBegin(); it != old_v->MemberEnd(); ++it) {
          std::string key(it->name.GetString(), it->name.GetStringLength());
          auto other = new_v->FindMember(it->name);
          Walk(&it->value, other == new_v->MemberEnd() ? nullptr : &other->value,
               path + "/" + PointerToken(key));
        }
        for (auto it = new_v->MemberBegin(); it != new_v->MemberEnd(); ++it) {
          if (old_v->HasMember(it->name)) continue;
          std::string key(it->name.GetString(), it->name.GetStringLength());
          Walk(nullptr, &it->value, path + "/" + PointerToken(key));
        }
        return;
      }
      // Same-length lists element by element (an image change is one entry);
      // a list that grew or shrank is one change of the whole list.
      if (old_v->IsArray() && new_v->IsArray() && old_v->Size() == new_v->Size()) {
        for (rapidjson::SizeType i = 0; i < old_v->Size(); ++i) {
          Walk(&(*old_v)[i], &(*new_v)[i], path + "/" + std::to_string(i));
        }
        return;
      }
      if (json::Equal(*old_v, *new_v)) return;
    }
    if (!old_v && !new_v) return;
    Emit(old_v, new_v, path);
  }

  json::Value TakeEntries() { return std::move(entries_); }
  size_t omitted() const { return omitted_; }
  bool budget_exhausted() const { return budget_exhausted_; }

 private:
  void Emit(const json::Value* old_v, const json::Value* new_v, const std::string& path) {
    if (entries_.Size() >= kMaxDiffEntries || budget_exhausted_) {
      ++omitted_;
      return;
    }
    json::Value e(rapidjson::kObjectType);
    size_t bytes = path.size() + 16;
    e.AddMember("path", json::String(path, alloc_), alloc_);
    Side(e, "old", "oldBytes", old_v, &bytes);
    Side(e, "new", "newBytes", new_v, &bytes);
    if (bytes > *budget_) {
      budget_exhausted_ = true;
      ++omitted_;
      return;
    }
    *budget_ -= bytes;
    entries_.PushBack(e, alloc_);
  }

  void Side(json::Value& e, const char* name, const char* size_name, const json::Value* v,
            size_t* bytes) {
    if (!v) return;
    size_t n = json::Dump(*v).size();
    if (n > kMaxDiffValueBytes) {
      e.AddMember(rapidjson::StringRef(size_name), static_cast<uint64_t>(n), alloc_);
      *bytes += 24;
      return;
    }
    json::Value copy(*v, alloc_);
    e.AddMember(rapidjson::StringRef(name), copy, alloc_);
    *bytes += n + 8;
  }

  json::Allocator& alloc_;
  size_t* budget_;
  json::Value entries_{rapidjson::kArrayType};
  size_t omitted_ = 0;
  bool budget_exhausted_ = false;
};

// ---- execution -------------------------------------------------------------------

struct Planned {
  const ApplyObject* object = nullptr;
  std::optional<json::Document> live;  // nullopt: absent before the apply
  json::Document after;                // the (dry-run) apply's answer
};

// The rule of the header: compare values, then ownership; a resourceVersion
// the apply left alone is unchanged without looking further. Values, not
// only the resourceVersion, decide because controllers write status (and a
// Deployment's revision annotation) between our read and our apply: that
// moves the resourceVersion without our manifest changing anything.
const char* ActionOf(const Planned& p, bool dry_run, bool diff_empty) {
  if (!p.live) return "created";
  if (!dry_run && json::GetString(*p.live, {"metadata", "resourceVersion"}) ==
                      json::GetString(p.after, {"metadata", "resourceVersion"})) {
    return "unchanged";
  }
  if (!diff_empty) return "configured";
  // No value changed; a new owner of the same values is still a write.
  return json::Equal(Ownership(*p.live), Ownership(p.after)) ? "unchanged" : "configured";
}

// Reads the live object of `t` into `out` (nullopt when absent).
std::optional<ActionResult> ReadLive(kube::RestClient& client, const Target& t,
                                     const kube::CallBounds& bounds,
                                     std::optional<json::Document>* out) {
  auto live = client.Get({t.api_version, t.kind, t.ns, t.name}, bounds);
  if (live) {
    *out = std::move(*live);
  } else if (live.error().IsNotFound()) {
    out->reset();
  } else {
    return FromKubeError(live.error(), t.Describe());
  }
  return std::nullopt;
}

ActionResult Execute(kube::RestClient& client, const ManifestsApplyPayload& payload,
                     const CancelToken& cancel) {
  // 1. Preflight: a dry-run apply of every object (with dryRun, also the
  // live object it is compared with), so a conflict or a validation error
  // in document 5 leaves documents 1-4 unwritten.
  const kube::CallBounds bounds = cancel.Bounds(client.clock());
  std::vector<Planned> plan;
  plan.reserve(payload.objects.size());
  for (const auto& object : payload.objects) {
    if (auto stop = Stopped(cancel)) return *stop;
    const Target& t = object.target;
    auto info = client.Resolve(t.api_version, t.kind, bounds);
    if (!info) {
      if (info.error().IsNotFound()) {
        return ActionResult::Fail(codes::kInvalid, t.Describe() + ": apiVersion " + t.api_version +
                                                       " kind " + t.kind +
                                                       " is not served by this cluster");
      }
      return FromKubeError(info.error(), t.Describe());
    }
    const AllowedKind* allowed = FindAllowed(t.api_version, t.kind);
    if (!allowed || info->resource != allowed->resource || !info->namespaced) {
      return ActionResult::Fail(codes::kInvalid, t.Describe() + ": the cluster serves it as " +
                                                     info->resource +
                                                     ", not a resource applyManifests may write");
    }
    Planned p;
    p.object = &object;
    if (payload.dry_run) {
      if (auto failed = ReadLive(client, t, bounds, &p.live)) return *failed;
    }
    kube::PatchOptions opts;
    opts.field_manager = kAgentFieldManager;
    opts.force = payload.force;
    opts.dry_run = true;
    opts.bounds = bounds;
    auto dry = client.Apply(*object.body, opts);
    if (!dry) return ApplyFailure(dry.error(), t);
    p.after = std::move(*dry);
    plan.push_back(std::move(p));
  }

  // 2. The real applies, in document order, each right after reading the
  // live object it is compared with (the smallest window for other writers).
  if (!payload.dry_run) {
    for (size_t i = 0; i < plan.size(); ++i) {
      Planned& p = plan[i];
      const Target& t = p.object->target;
      std::optional<ActionResult> failure = Stopped(cancel);
      if (!failure) failure = ReadLive(client, t, bounds, &p.live);
      if (!failure) {
        kube::PatchOptions opts;
        opts.field_manager = kAgentFieldManager;
        opts.force = payload.force;
        opts.bounds = bounds;
        auto r = client.Apply(*p.object->body, opts);
        if (r) {
          p.after = std::move(*r);
          continue;
        }
        failure = ApplyFailure(r.error(), t);
      }
      // Honest about what is already in the cluster: the objects before
      // this one were written, the rest were not attempted.
      std::string done;
      for (size_t j = 0; j < i && j < 20; ++j) {
        done += (j ? ", " : "") + plan[j].object->target.Describe();
      }
      if (i > 20) done += ", and " + std::to_string(i - 20) + " more";
      failure->message +=
          i == 0 ? std::string("; nothing was applied") : "; applied before this failure: " + done;
      if (plan.size() - i - 1 > 0) {
        failure->message += "; not attempted: " + std::to_string(plan.size() - i - 1);
      }
      return *failure;
    }
  }

  // 3. The result.
  json::Document out(rapidjson::kObjectType);
  auto& alloc = out.GetAllocator();
  out.AddMember("dryRun", payload.dry_run, alloc);
  json::Value objects(rapidjson::kArrayType);
  size_t budget = kMaxDiffBytes;
  bool truncated = false;
  for (size_t i = 0; i < plan.size(); ++i) {
    const Planned& p = plan[i];
    const Target& t = p.object->target;
    DiffWriter diff(alloc, &budget);
    if (p.live) {
      json::Document before = Comparable(*p.live);
      json::Document now = Comparable(p.after);
      diff.Walk(&before, &now, "");
    }
    json::Value entries = diff.TakeEntries();
    const char* action = ActionOf(p, payload.dry_run, entries.Empty() && !diff.omitted());
    json::Value o(rapidjson::kObjectType);
    o.AddMember("apiVersion", json::String(t.api_version, alloc), alloc);
    o.AddMember("kind", json::String(t.kind, alloc), alloc);
    o.AddMember("namespace", json::String(t.ns, alloc), alloc);
    o.AddMember("name", json::String(t.name, alloc), alloc);
    o.AddMember("action", rapidjson::StringRef(action), alloc);
    o.AddMember("diff", entries, alloc);
    if (diff.omitted()) o.AddMember("diffOmitted", static_cast<uint64_t>(diff.omitted()), alloc);
    truncated |= diff.budget_exhausted();
    objects.PushBack(o, alloc);
  }
  out.AddMember("objects", objects, alloc);
  out.AddMember("diffTruncated", truncated, alloc);
  return ActionResult::Ok(json::Dump(out));
}

// "manifests: document 3 (line 41)" — where an object came from.
std::string Where(const scan::Manifest& m) {
  std::string w = "manifests: document " + std::to_string(m.document);
  if (m.line > 0) w += " (line " + std::to_string(m.line) + ")";
  return w;
}

}  // namespace

std::string ParseManifestsApplyPayload(const json::Value& payload, ManifestsApplyPayload* out) {
  if (!payload.IsObject()) return "payload must be a JSON object";
  for (auto it = payload.MemberBegin(); it != payload.MemberEnd(); ++it) {
    std::string_view k(it->name.GetString(), it->name.GetStringLength());
    // A typo ("dryrun") must not silently turn a dry run into a real apply.
    if (k != "requestedBy" && k != "manifests" && k != "dryRun" && k != "force") {
      return "unknown member \"" + std::string(k) + "\"";
    }
  }
  const auto* text = json::Find(payload, {"manifests"});
  if (!text || !text->IsString() || text->GetStringLength() == 0) {
    return "manifests: required, YAML or JSON text";
  }
  if (text->GetStringLength() > kMaxManifestBytes) {
    return "manifests: " + std::to_string(text->GetStringLength()) +
           " bytes is more than the limit of " + std::to_string(kMaxManifestBytes);
  }
  ManifestsApplyPayload result;
  for (auto [name, field] : {std::pair{"dryRun", &result.dry_run}, {"force", &result.force}}) {
    if (const auto* v = json::Find(payload, {name})) {
      if (!v->IsBool()) return std::string(name) + ": must be a boolean";
      *field = v->GetBool();
    }
  }

  // scan::ParseManifests is the bounded reader srexpert-scan uses: size,
  // nesting, node count (alias bombs) and the document count are limited
  // before yaml-cpp builds anything, through common/yaml_documents.h (never
  // YAML::LoadAll, which loops forever on a stray ',').
  scan::ManifestLimits limits;
  limits.max_bytes = kMaxManifestBytes;
  limits.max_depth = 64;
  // Empty documents ("---" at the end) count as documents but not objects.
  limits.max_documents = 2 * kMaxManifestObjects;
  limits.max_nodes = 200000;
  std::vector<scan::Manifest> manifests;
  std::string_view source(text->GetString(), text->GetStringLength());
  std::string error = scan::ParseManifests(source, "manifests", limits, &manifests);
  if (!error.empty()) return error;
  if (manifests.empty()) return "manifests: no objects";
  if (manifests.size() > kMaxManifestObjects) {
    return "manifests: " + std::to_string(manifests.size()) + " objects, more than the limit of " +
           std::to_string(kMaxManifestObjects);
  }

  std::set<std::tuple<std::string, std::string, std::string, std::string>> seen;
  for (const auto& m : manifests) {
    const json::Value& o = *m.value;
    std::string where = Where(m);
    std::string api_version = json::GetString(o, {"apiVersion"});
    std::string kind = json::GetString(o, {"kind"});
    if (!FindAllowed(api_version, kind)) {
      return where + ": kind " + kind + " of apiVersion " + api_version +
             " is not allowed by applyManifests (allowed: " + AllowedList() + ")";
    }
    const auto* name = json::Find(o, {"metadata", "name"});
    if (!name || !name->IsString() ||
        !api::IsDnsSubdomain({name->GetString(), name->GetStringLength()})) {
      return where +
             ": metadata.name: required, a DNS-1123 subdomain (server-side apply cannot use "
             "generateName)";
    }
    const auto* ns = json::Find(o, {"metadata", "namespace"});
    if (!ns || !ns->IsString() || !api::IsDnsLabel({ns->GetString(), ns->GetStringLength()})) {
      // Never "default" by implication: the namespace authorized is the one
      // written, and the backend shows the user exactly that.
      return where + ": metadata.namespace: required for " + kind + ", a DNS-1123 label";
    }
    ApplyObject a;
    a.target = {api_version, kind, ns->GetString(), name->GetString()};
    if (!seen.emplace(std::string(GroupOf(api_version)), kind, a.target.ns, a.target.name).second) {
      return where + ": " + a.target.Describe() + " appears more than once";
    }
    a.body = std::make_shared<json::Document>(json::Clone(o));
    result.objects.push_back(std::move(a));
  }
  *out = std::move(result);
  return "";
}

ActionKind ManifestsApplyKind(std::shared_ptr<kube::RestClient> client) {
  ActionKind k;
  k.name = "manifests.apply";
  k.switch_name = "applyManifests";
  k.parse = [client](const json::Value& p) -> ParseOutcome {
    auto payload = std::make_shared<ManifestsApplyPayload>();
    std::string error = ParseManifestsApplyPayload(p, payload.get());
    if (!error.empty()) return error;
    PreparedAction a;
    for (const auto& o : payload->objects) a.targets.push_back(o.target);
    a.execute = [client, payload](const ActionRequest&, const CancelToken& cancel) {
      return Execute(*client, *payload, cancel);
    };
    return a;
  };
  return k;
}

}  // namespace srexpert::actions
