#include "hub/stream_payload.h"

#include "common/json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fmt/format.h>

namespace srexpert::hub {

namespace {

using rapidjson::Value;

// Same bound as the envelope codec: the parse is iterative, and the
// duplicate-member walk recurses at most this deep.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxKind = 64;
constexpr size_t kMaxName = 253;
constexpr size_t kMaxId = 128;
constexpr size_t kMaxTimestamp = 64;
constexpr size_t kMaxReason = 4096;
constexpr size_t kMaxKinds = 1024;
constexpr int64_t kMaxInteger = (int64_t{1} << 53) - 1;

const Value* Member(const Value& obj, std::string_view name) {
  auto it = obj.FindMember(Value::StringRefType(name.data(), static_cast<rapidjson::SizeType>(name.size())));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

// Checks of one member; each returns "" when fine, otherwise
// "<member>: <what is wrong>" for the caller to prefix with its path.
std::string String(const Value& obj, std::string_view name, size_t min, size_t max, bool required,
                   std::string* out = nullptr) {
  const Value* v = Member(obj, name);
  if (!v) return required ? fmt::format("{}: required", name) : std::string();
  if (!v->IsString()) return fmt::format("{}: must be a string", name);
  size_t len = v->GetStringLength();
  if (len < min || len > max) return fmt::format("{}: must be {}..{} bytes", name, min, max);
  if (out) out->assign(v->GetString(), len);
  return {};
}

std::string Integer(const Value& obj, std::string_view name, bool required, int64_t* out = nullptr) {
  const Value* v = Member(obj, name);
  if (!v) return required ? fmt::format("{}: required", name) : std::string();
  if (!v->IsInt64() || v->GetInt64() < 0 || v->GetInt64() > kMaxInteger) {
    return fmt::format("{}: must be an integer 0..2^53-1", name);
  }
  if (out) *out = v->GetInt64();
  return {};
}

// Any exact integer (usage figures: only their type is the protocol's).
std::string AnyInteger(const Value& obj, std::string_view name, bool required) {
  const Value* v = Member(obj, name);
  if (!v) return required ? fmt::format("{}: required", name) : std::string();
  if (!v->IsInt64()) return fmt::format("{}: must be an integer", name);
  return {};
}

std::string Bool(const Value& obj, std::string_view name, bool required, bool* out = nullptr) {
  const Value* v = Member(obj, name);
  if (!v) return required ? fmt::format("{}: required", name) : std::string();
  if (!v->IsBool()) return fmt::format("{}: must be a boolean", name);
  if (out) *out = v->GetBool();
  return {};
}

// Compact serialization into a reused buffer.
class Serializer {
 public:
  std::string operator()(const Value& v) {
    buf_.Clear();
    rapidjson::Writer<rapidjson::StringBuffer> w(buf_);
    v.Accept(w);
    return std::string(buf_.GetString(), buf_.GetSize());
  }

 private:
  rapidjson::StringBuffer buf_;
};

// Parses the payload text into `doc`; "" or the error.
std::string ParsePayload(std::string_view text, rapidjson::Document* doc) {
  if (json::NestingDepth(text) > kMaxDepth) {
    return fmt::format("payload: JSON nested deeper than {} levels", kMaxDepth);
  }
  doc->Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                     text.size());
  if (doc->HasParseError()) {
    return fmt::format("payload: invalid JSON at offset {}: {}", doc->GetErrorOffset(),
                       rapidjson::GetParseError_En(doc->GetParseError()));
  }
  if (!doc->IsObject()) return "payload: must be an object";
  if (json::HasDuplicateMembers(*doc)) return "payload: duplicate member names";
  return {};
}

// kind / namespace / name of an object entry.
std::string Identity(const Value& entry, ResourceRecord* out) {
  std::string e = String(entry, "kind", 1, kMaxKind, true, &out->kind);
  if (e.empty()) e = String(entry, "namespace", 0, kMaxName, true, &out->ns);
  if (e.empty()) e = String(entry, "name", 1, kMaxName, true, &out->name);
  return e;
}

std::string Kinds(const Value& kinds) {
  if (!kinds.IsArray()) return "kinds: must be an array";
  if (kinds.Size() > kMaxKinds) return fmt::format("kinds: at most {} entries", kMaxKinds);
  rapidjson::SizeType i = 0;
  for (const auto& k : kinds.GetArray()) {
    std::string e;
    if (!k.IsObject()) {
      e = "must be an object";
    } else {
      bool available = true;
      e = String(k, "kind", 1, kMaxKind, true);
      if (e.empty()) e = String(k, "apiVersion", 0, kMaxName, false);
      if (e.empty()) e = Bool(k, "available", true, &available);
      if (e.empty()) e = String(k, "reason", 0, kMaxReason, false);
    }
    if (!e.empty()) return fmt::format("kinds[{}]{}{}", i, k.IsObject() ? "." : ": ", e);
    ++i;
  }
  return {};
}

std::string Event(const Value& ev, EventRecord* out) {
  if (!ev.IsObject()) return ": must be an object";
  std::string e = String(ev, "uid", 1, kMaxId, true, &out->uid);
  if (e.empty()) e = String(ev, "namespace", 0, kMaxName, true, &out->ns);
  if (e.empty()) e = String(ev, "name", 0, kMaxName, false);
  for (std::string_view m : {"type", "reason", "message", "reportingController"}) {
    if (e.empty()) e = String(ev, m, 0, SIZE_MAX, false);
  }
  if (e.empty()) e = Integer(ev, "count", false);
  std::string first, last;
  if (e.empty()) e = String(ev, "firstTimestamp", 0, kMaxTimestamp, false, &first);
  if (e.empty()) e = String(ev, "lastTimestamp", 0, kMaxTimestamp, false, &last);
  if (e.empty()) {
    if (const Value* r = Member(ev, "regarding")) {
      if (!r->IsObject()) {
        e = "regarding: must be an object";
      } else {
        e = String(*r, "kind", 0, kMaxKind, false);
        if (e.empty()) e = String(*r, "namespace", 0, kMaxName, false);
        if (e.empty()) e = String(*r, "name", 0, kMaxName, false);
        if (e.empty()) e = String(*r, "uid", 0, kMaxId, false);
        if (!e.empty()) e = "regarding." + e;
      }
    }
  }
  if (!e.empty()) return "." + e;
  out->sort_time = !last.empty() ? last : first;
  return {};
}

std::string Usage(const Value& entry, bool pod) {
  if (!entry.IsObject()) return ": must be an object";
  std::string e;
  if (pod) e = String(entry, "namespace", 0, kMaxName, true);
  if (e.empty()) e = String(entry, "name", 1, kMaxName, true);
  if (e.empty()) e = AnyInteger(entry, "cpuMilli", true);
  if (e.empty()) e = AnyInteger(entry, "memoryBytes", true);
  return e.empty() ? e : "." + e;
}

std::string Metrics(const Value& m) {
  if (!m.IsObject()) return "metrics: must be an object";
  bool available = false;
  std::string e = Bool(m, "available", true, &available);
  if (e.empty() && !available) e = String(m, "reason", 0, kMaxReason, false);
  if (e.empty() && available) {
    e = String(m, "collectedAt", 0, kMaxTimestamp, false);
    for (std::string_view list : {"nodes", "pods"}) {
      if (!e.empty()) break;
      const Value* v = Member(m, list);
      if (!v) continue;
      if (!v->IsArray()) {
        e = fmt::format("{}: must be an array", list);
        break;
      }
      rapidjson::SizeType i = 0;
      for (const auto& entry : v->GetArray()) {
        std::string u = Usage(entry, list == "pods");
        if (!u.empty()) {
          e = fmt::format("{}[{}]{}", list, i, u);
          break;
        }
        ++i;
      }
    }
  }
  return e.empty() ? e : "metrics." + e;
}

template <typename T>
std::optional<T> Failed(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}

}  // namespace

std::optional<SnapshotPayload> DecodeSnapshotPayload(std::string_view json, std::string* error) {
  rapidjson::Document doc;
  if (std::string e = ParsePayload(json, &doc); !e.empty()) return Failed<SnapshotPayload>(error, e);
  SnapshotPayload out;
  std::string e = String(doc, "snapshot", 1, kMaxId, true, &out.snapshot);
  if (e.empty()) e = Integer(doc, "part", true, &out.part);
  if (!e.empty()) return Failed<SnapshotPayload>(error, e);
  Serializer dump;
  if (out.part == 0) {
    const Value* kinds = Member(doc, "kinds");
    if (!kinds) return Failed<SnapshotPayload>(error, "kinds: required on part 0");
    if (e = Kinds(*kinds); !e.empty()) return Failed<SnapshotPayload>(error, e);
    out.kinds_json = dump(*kinds);
  }
  const Value* objects = Member(doc, "objects");
  if (!objects) return Failed<SnapshotPayload>(error, "objects: required");
  if (!objects->IsArray()) return Failed<SnapshotPayload>(error, "objects: must be an array");
  out.objects.reserve(objects->Size());
  rapidjson::SizeType i = 0;
  for (const auto& entry : objects->GetArray()) {
    ResourceRecord r;
    if (!entry.IsObject()) {
      return Failed<SnapshotPayload>(error, fmt::format("objects[{}]: must be an object", i));
    }
    e = Identity(entry, &r);
    if (e.empty()) {
      const Value* obj = Member(entry, "object");
      if (!obj) e = "object: required";
      else if (!obj->IsObject()) e = "object: must be an object";
      else r.object = dump(*obj);
    }
    if (!e.empty()) return Failed<SnapshotPayload>(error, fmt::format("objects[{}].{}", i, e));
    out.objects.push_back(std::move(r));
    ++i;
  }
  return out;
}

// A scan report as docs/protocol.md defines it: the members the hub reads
// (the diff keys findings by check, kind, namespace, name and container).
std::string ScanReport(const Value& r) {
  if (!r.IsObject()) return "scan: must be an object";
  std::string e = String(r, "scannedAt", 1, kMaxTimestamp, true);
  int64_t score = 0;
  if (e.empty()) e = Integer(r, "score", true, &score);
  if (e.empty() && (score < 0 || score > 100)) e = "score: must be 0..100";
  if (e.empty()) {
    const Value* f = Member(r, "findings");
    if (!f || !f->IsArray()) {
      e = "findings: must be an array";
    } else {
      rapidjson::SizeType i = 0;
      for (const auto& item : f->GetArray()) {
        std::string u;
        if (!item.IsObject()) {
          u = ": must be an object";
        } else {
          u = String(item, "check", 1, kMaxName, true);
          if (u.empty()) u = String(item, "severity", 1, kMaxName, true);
          if (u.empty()) u = String(item, "kind", 1, kMaxName, true);
          if (u.empty()) u = String(item, "namespace", 0, kMaxName, true);
          if (u.empty()) u = String(item, "name", 1, kMaxName, true);
          if (u.empty()) u = String(item, "container", 0, kMaxName, false);
          if (!u.empty()) u = "." + u;
        }
        if (!u.empty()) {
          e = fmt::format("findings[{}]{}", i, u);
          break;
        }
        ++i;
      }
    }
  }
  return e.empty() ? e : "scan." + e;
}

std::optional<DeltaPayload> DecodeDeltaPayload(std::string_view json, std::string* error) {
  rapidjson::Document doc;
  if (std::string e = ParsePayload(json, &doc); !e.empty()) return Failed<DeltaPayload>(error, e);
  const Value* changes = Member(doc, "changes");
  const Value* events = Member(doc, "events");
  const Value* metrics = Member(doc, "metrics");
  const Value* scan = Member(doc, "scan");
  if (!changes && !events && !metrics && !scan) {
    return Failed<DeltaPayload>(error,
                                "payload: needs at least one of changes, events, metrics, scan");
  }
  DeltaPayload out;
  Serializer dump;
  if (changes) {
    if (!changes->IsArray()) return Failed<DeltaPayload>(error, "changes: must be an array");
    out.changes.reserve(changes->Size());
    rapidjson::SizeType i = 0;
    for (const auto& entry : changes->GetArray()) {
      if (!entry.IsObject()) {
        return Failed<DeltaPayload>(error, fmt::format("changes[{}]: must be an object", i));
      }
      Change c;
      std::string e;
      std::string op;
      e = String(entry, "op", 0, SIZE_MAX, true, &op);
      if (e.empty()) {
        if (op == "added") c.op = ChangeOp::kAdded;
        else if (op == "modified") c.op = ChangeOp::kModified;
        else if (op == "deleted") c.op = ChangeOp::kDeleted;
        else e = "op: must be added, modified or deleted";
      }
      if (e.empty()) e = Identity(entry, &c.resource);
      if (e.empty()) {
        // added: object; modified: object or patch; deleted: neither.
        const Value* obj = Member(entry, "object");
        const Value* patch = Member(entry, "patch");
        if (c.op == ChangeOp::kDeleted) {
          if (obj) e = "object: not allowed with op deleted";
          else if (patch) e = "patch: not allowed with op deleted";
        } else if (c.op == ChangeOp::kAdded && patch) {
          e = "patch: not allowed with op added";
        } else if (obj && patch) {
          e = "patch: not allowed together with object";
        } else if (patch) {
          if (!patch->IsObject()) e = "patch: must be an object";
          else c.patch = dump(*patch);
        } else if (!obj) {
          e = c.op == ChangeOp::kAdded ? "object: required with op added"
                                       : "object: required with op modified (or patch)";
        } else if (!obj->IsObject()) {
          e = "object: must be an object";
        } else {
          c.resource.object = dump(*obj);
        }
      }
      if (!e.empty()) return Failed<DeltaPayload>(error, fmt::format("changes[{}].{}", i, e));
      out.changes.push_back(std::move(c));
      ++i;
    }
  }
  if (events) {
    if (!events->IsArray()) return Failed<DeltaPayload>(error, "events: must be an array");
    out.events.reserve(events->Size());
    rapidjson::SizeType i = 0;
    for (const auto& entry : events->GetArray()) {
      EventRecord r;
      if (std::string e = Event(entry, &r); !e.empty()) {
        return Failed<DeltaPayload>(error, fmt::format("events[{}]{}", i, e));
      }
      r.json = dump(entry);
      out.events.push_back(std::move(r));
      ++i;
    }
  }
  if (metrics) {
    if (std::string e = Metrics(*metrics); !e.empty()) return Failed<DeltaPayload>(error, e);
    out.metrics = dump(*metrics);
  }
  if (scan) {
    if (std::string e = ScanReport(*scan); !e.empty()) return Failed<DeltaPayload>(error, e);
    out.scan = dump(*scan);
  }
  return out;
}

}  // namespace srexpert::hub
