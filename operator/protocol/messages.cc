#include "protocol/messages.h"

#include "common/json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fmt/format.h>

#include <algorithm>

namespace srexpert::protocol {

namespace {

using rapidjson::Value;

constexpr int kMaxDepth = kMaxNestingDepth;
constexpr rapidjson::SizeType kMaxEnvelopeMembers = 64;
constexpr size_t kMaxShort = 64;     // type, agentVersion, codes, capabilities
constexpr size_t kMaxId = 128;       // ids, uid, kinds, session ids, refs
constexpr size_t kMaxName = 253;     // DNS-1123 names: cluster, node, pod
constexpr size_t kMaxMessage = 4096;  // human-readable messages
constexpr int64_t kMaxTimeoutMs = 86'400'000;

bool IsPrintableAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

rapidjson::Value::StringRefType Ref(std::string_view s) {
  return {s.data(), static_cast<rapidjson::SizeType>(s.size())};
}

// Reads members of one JSON object, remembering the first problem.
class Reader {
 public:
  Reader(const Value& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }
  const std::string& prefix() const { return prefix_; }
  void Adopt(const Reader& nested) {
    if (error_.empty()) error_ = nested.error();
  }
  void Fail(std::string_view member, std::string_view what) {
    if (error_.empty()) error_ = fmt::format("{}{}: {}", prefix_, member, what);
  }

  const Value* Get(std::string_view member, bool required) {
    auto it = obj_.FindMember(Ref(member));
    if (it == obj_.MemberEnd()) {
      if (required) Fail(member, "required");
      return nullptr;
    }
    return &it->value;
  }

  void String(std::string_view member, std::string* out, bool required) {
    const Value* v = Get(member, required);
    if (!v) return;
    if (!v->IsString()) return Fail(member, "must be a string");
    out->assign(v->GetString(), v->GetStringLength());
  }

  void Int(std::string_view member, int64_t* out, bool required) {
    const Value* v = Get(member, required);
    if (!v) return;
    if (!v->IsInt64()) return Fail(member, "must be an integer");
    *out = v->GetInt64();
  }

  void Bool(std::string_view member, bool* out, bool required) {
    const Value* v = Get(member, required);
    if (!v) return;
    if (!v->IsBool()) return Fail(member, "must be a boolean");
    *out = v->GetBool();
  }

  // An object member re-serialized as JSON text.
  void Object(std::string_view member, std::string* out, bool required) {
    const Value* v = Get(member, required);
    if (!v) return;
    if (!v->IsObject()) return Fail(member, "must be an object");
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v->Accept(w);
    out->assign(buf.GetString(), buf.GetSize());
  }

  const Value* SubObject(std::string_view member, bool required) {
    const Value* v = Get(member, required);
    if (!v) return nullptr;
    if (!v->IsObject()) {
      Fail(member, "must be an object");
      return nullptr;
    }
    if (json::HasDuplicateMembers(*v, json::MemberScope::kTopLevel)) {
      Fail(member, "duplicate member names");
      return nullptr;
    }
    return v;
  }

  void Strings(std::string_view member, std::vector<std::string>* out, bool required) {
    const Value* v = Get(member, required);
    if (!v) return;
    if (!v->IsArray()) return Fail(member, "must be an array of strings");
    if (v->Size() > 64) return Fail(member, "too many entries");
    for (const auto& e : v->GetArray()) {
      if (!e.IsString()) return Fail(member, "must be an array of strings");
      out->emplace_back(e.GetString(), e.GetStringLength());
    }
  }

  void Ints(std::string_view member, std::vector<int>* out, bool required) {
    const Value* v = Get(member, required);
    if (!v) return;
    if (!v->IsArray()) return Fail(member, "must be an array of integers");
    if (v->Size() > 16) return Fail(member, "too many entries");
    out->clear();
    for (const auto& e : v->GetArray()) {
      if (!e.IsInt()) return Fail(member, "must be an array of integers");
      out->push_back(e.GetInt());
    }
  }

 private:
  const Value& obj_;
  std::string prefix_;
  std::string error_;
};

// ---- validation -------------------------------------------------------------

class Checker {
 public:
  explicit Checker(std::string_view type) : type_(type) {}
  std::string error;

  void Len(std::string_view field, const std::string& s, size_t min, size_t max) {
    if (!error.empty()) return;
    if (s.size() < min || s.size() > max) {
      error = fmt::format("{}.{}: length must be {}..{} bytes", type_, field, min, max);
    }
  }
  void Id(std::string_view field, const std::string& s) {
    if (!error.empty()) return;
    if (s.empty() || s.size() > kMaxId || !IsPrintableAscii(s)) {
      error = fmt::format("{}.{}: must be 1..{} printable ASCII bytes", type_, field, kMaxId);
    }
  }
  void Range(std::string_view field, int64_t v, int64_t min, int64_t max) {
    if (!error.empty()) return;
    if (v < min || v > max) error = fmt::format("{}.{}: must be {}..{}", type_, field, min, max);
  }

 private:
  std::string_view type_;
};

std::string ValidateOne(const Hello& m) {
  Checker c("hello");
  c.Len("agentVersion", m.agent_version, 1, kMaxShort);
  if (c.error.empty() && (m.protocol_versions.empty() || m.protocol_versions.size() > 16)) {
    c.error = "hello.protocolVersions: must have 1..16 entries";
  }
  for (int v : m.protocol_versions) c.Range("protocolVersions[]", v, 1, 65535);
  c.Len("cluster.uid", m.cluster.uid, 1, kMaxId);
  c.Len("cluster.name", m.cluster.name, 0, kMaxName);
  c.Len("cluster.kubernetesVersion", m.cluster.kubernetes_version, 0, kMaxShort);
  c.Len("node", m.node, 0, kMaxName);
  c.Len("pod", m.pod, 0, kMaxName);
  if (c.error.empty() && m.capabilities.size() > 64) {
    c.error = "hello.capabilities: at most 64 entries";
  }
  for (const auto& cap : m.capabilities) c.Len("capabilities[]", cap, 1, kMaxShort);
  return c.error;
}

std::string ValidateOne(const Welcome& m) {
  Checker c("welcome");
  c.Id("sessionId", m.session_id);
  c.Range("version", m.version, 1, 65535);
  c.Range("lastAck", m.last_ack, 0, kMaxSeq);
  c.Range("limits.maxMessageBytes", m.limits.max_message_bytes, kMinMaxMessageBytes, INT32_MAX);
  c.Range("limits.maxInFlightRequests", m.limits.max_in_flight_requests, 1, 65535);
  if (c.error.empty() && m.capabilities.size() > 64) {
    c.error = "welcome.capabilities: at most 64 entries";
  }
  for (const auto& cap : m.capabilities) c.Len("capabilities[]", cap, 1, kMaxShort);
  return c.error;
}

std::string ValidateOne(const Ack& m) {
  Checker c("ack");
  c.Range("seq", m.seq, 0, kMaxSeq);
  return c.error;
}

std::string ValidateOne(const StreamMessage& m) {
  Checker c(m.kind == StreamMessage::Kind::kSnapshot ? "snapshot" : "delta");
  c.Range("seq", m.seq, 1, kMaxSeq);
  return c.error;
}

std::string ValidateOne(const Request& m) {
  Checker c("request");
  c.Id("id", m.id);
  c.Len("kind", m.kind, 1, kMaxId);
  c.Range("timeoutMs", m.timeout_ms, 0, kMaxTimeoutMs);
  return c.error;
}

std::string ValidateOne(const Response& m) {
  Checker c("response");
  c.Id("id", m.id);
  if (!m.ok) {
    c.Len("error.code", m.error.code, 1, kMaxShort);
    c.Len("error.message", m.error.message, 0, kMaxMessage);
  }
  return c.error;
}

std::string ValidateOne(const Progress& m) {
  Checker c("progress");
  c.Id("id", m.id);
  return c.error;
}

std::string ValidateOne(const Error& m) {
  Checker c("error");
  c.Len("code", m.code, 1, kMaxShort);
  c.Len("message", m.message, 0, kMaxMessage);
  c.Len("ref", m.ref, 0, kMaxId);
  return c.error;
}

// ---- decoding ---------------------------------------------------------------

DecodeResult Fail(DecodeErrorKind kind, std::string message, std::string type = {},
                  std::string id = {}) {
  DecodeResult r;
  r.error = {kind, std::move(message), std::move(type), std::move(id)};
  return r;
}

std::optional<Message> DecodeBody(const std::string& type, const Value& root, Reader& r) {
  if (type == "hello") {
    Hello m;
    r.String("agentVersion", &m.agent_version, true);
    r.Ints("protocolVersions", &m.protocol_versions, true);
    if (const Value* cluster = r.SubObject("cluster", true)) {
      Reader cr(*cluster, r.prefix() + "cluster.");
      cr.String("uid", &m.cluster.uid, true);
      cr.String("name", &m.cluster.name, false);
      cr.String("kubernetesVersion", &m.cluster.kubernetes_version, false);
      r.Adopt(cr);
    }
    r.String("node", &m.node, false);
    r.String("pod", &m.pod, false);
    r.Strings("capabilities", &m.capabilities, false);
    return m;
  }
  if (type == "welcome") {
    Welcome m;
    int64_t version = 0;
    r.String("sessionId", &m.session_id, true);
    r.Int("version", &version, true);
    r.Int("lastAck", &m.last_ack, true);
    m.version = static_cast<int>(std::clamp<int64_t>(version, -1, 1 << 20));
    if (const Value* limits = r.SubObject("limits", true)) {
      Reader lr(*limits, r.prefix() + "limits.");
      int64_t in_flight = 0;
      lr.Int("maxMessageBytes", &m.limits.max_message_bytes, true);
      lr.Int("maxInFlightRequests", &in_flight, true);
      m.limits.max_in_flight_requests = static_cast<int>(std::clamp<int64_t>(in_flight, -1, 1 << 20));
      r.Adopt(lr);
    }
    r.Strings("capabilities", &m.capabilities, false);
    return m;
  }
  if (type == "ack") {
    Ack m;
    r.Int("seq", &m.seq, true);
    return m;
  }
  if (type == "snapshot" || type == "delta") {
    StreamMessage m;
    m.kind = type == "snapshot" ? StreamMessage::Kind::kSnapshot : StreamMessage::Kind::kDelta;
    r.Int("seq", &m.seq, true);
    r.Object("payload", &m.payload, true);
    if (m.kind == StreamMessage::Kind::kSnapshot) r.Bool("final", &m.final, false);
    return m;
  }
  if (type == "request") {
    Request m;
    r.String("id", &m.id, true);
    r.String("kind", &m.kind, true);
    r.Int("timeoutMs", &m.timeout_ms, false);
    r.Object("payload", &m.payload, false);
    return m;
  }
  if (type == "response") {
    Response m;
    r.String("id", &m.id, true);
    r.Bool("ok", &m.ok, true);
    if (!r.ok()) return m;
    if (m.ok) {
      r.Object("payload", &m.payload, false);
      if (root.HasMember("error")) r.Fail("error", "not allowed with ok:true");
    } else {
      if (root.HasMember("payload")) r.Fail("payload", "not allowed with ok:false");
      if (const Value* err = r.SubObject("error", true)) {
        Reader er(*err, r.prefix() + "error.");
        er.String("code", &m.error.code, true);
        er.String("message", &m.error.message, false);
        r.Adopt(er);
      }
    }
    return m;
  }
  if (type == "progress") {
    Progress m;
    r.String("id", &m.id, true);
    r.Object("payload", &m.payload, true);
    return m;
  }
  if (type == "error") {
    Error m;
    r.String("code", &m.code, true);
    r.String("message", &m.message, false);
    r.String("ref", &m.ref, false);
    return m;
  }
  return std::nullopt;
}

// ---- encoding ---------------------------------------------------------------

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}
void Int(Writer& w, std::string_view key, int64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Int64(value);
}

// Writes `text` (which must be a JSON object) under `key`.
bool Payload(Writer& w, std::string_view key, const std::string& text, std::string* error) {
  // Inside the envelope the payload sits one level deeper; the receiver
  // counts the whole message.
  if (json::NestingDepth(text) > kMaxDepth - 1) {
    *error = fmt::format("{}: nested too deep", key);
    return false;
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    *error = fmt::format("{}: must be a JSON object", key);
    return false;
  }
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  doc.Accept(w);
  return true;
}

bool EncodeBody(Writer& w, const Message& message, std::string* error) {
  return std::visit(
      [&](const auto& m) -> bool {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello>) {
          Str(w, "agentVersion", m.agent_version);
          w.Key("protocolVersions");
          w.StartArray();
          for (int v : m.protocol_versions) w.Int(v);
          w.EndArray();
          w.Key("cluster");
          w.StartObject();
          Str(w, "uid", m.cluster.uid);
          Str(w, "name", m.cluster.name);
          Str(w, "kubernetesVersion", m.cluster.kubernetes_version);
          w.EndObject();
          Str(w, "node", m.node);
          Str(w, "pod", m.pod);
          w.Key("capabilities");
          w.StartArray();
          for (const auto& c : m.capabilities) {
            w.String(c.data(), static_cast<rapidjson::SizeType>(c.size()));
          }
          w.EndArray();
        } else if constexpr (std::is_same_v<T, Welcome>) {
          Str(w, "sessionId", m.session_id);
          Int(w, "version", m.version);
          Int(w, "lastAck", m.last_ack);
          w.Key("limits");
          w.StartObject();
          Int(w, "maxMessageBytes", m.limits.max_message_bytes);
          Int(w, "maxInFlightRequests", m.limits.max_in_flight_requests);
          w.EndObject();
          // Absent when empty: the welcome of a backend without extras is
          // exactly the v1 welcome it always was.
          if (!m.capabilities.empty()) {
            w.Key("capabilities");
            w.StartArray();
            for (const auto& c : m.capabilities) {
              w.String(c.data(), static_cast<rapidjson::SizeType>(c.size()));
            }
            w.EndArray();
          }
        } else if constexpr (std::is_same_v<T, Ack>) {
          Int(w, "seq", m.seq);
        } else if constexpr (std::is_same_v<T, StreamMessage>) {
          Int(w, "seq", m.seq);
          if (m.kind == StreamMessage::Kind::kSnapshot) {
            w.Key("final");
            w.Bool(m.final);
          }
          return Payload(w, "payload", m.payload, error);
        } else if constexpr (std::is_same_v<T, Request>) {
          Str(w, "id", m.id);
          Str(w, "kind", m.kind);
          if (m.timeout_ms > 0) Int(w, "timeoutMs", m.timeout_ms);
          return Payload(w, "payload", m.payload, error);
        } else if constexpr (std::is_same_v<T, Response>) {
          Str(w, "id", m.id);
          w.Key("ok");
          w.Bool(m.ok);
          if (m.ok) return Payload(w, "payload", m.payload, error);
          w.Key("error");
          w.StartObject();
          Str(w, "code", m.error.code);
          Str(w, "message", m.error.message);
          w.EndObject();
        } else if constexpr (std::is_same_v<T, Progress>) {
          Str(w, "id", m.id);
          return Payload(w, "payload", m.payload, error);
        } else if constexpr (std::is_same_v<T, Error>) {
          Str(w, "code", m.code);
          Str(w, "message", m.message);
          if (!m.ref.empty()) Str(w, "ref", m.ref);
        }
        return true;
      },
      message);
}

}  // namespace

bool CloseCodeIsAuthRefusal(int code) {
  return code == kCloseUnauthorized || code == kCloseForbidden;
}

bool CloseCodeWantsMaxBackoff(int code) {
  return CloseCodeIsAuthRefusal(code) || code == kCloseSuperseded ||
         code == kCloseUnsupportedVersion;
}

std::string CloseCodeName(int code) {
  switch (code) {
    case kCloseNormal: return "normal";
    case kCloseGoingAway: return "going away";
    case kCloseWebSocketProtocolError: return "websocket protocol error";
    case kCloseInvalidUtf8: return "invalid UTF-8";
    case kCloseUnauthorized: return "unauthorized";
    case kCloseForbidden: return "forbidden";
    case kCloseProtocolViolation: return "protocol violation";
    case kCloseHandshakeTimeout: return "handshake timeout";
    case kCloseSuperseded: return "superseded";
    case kCloseTooBig: return "message too big";
    case kCloseUnsupportedVersion: return "unsupported version";
    case kCloseTooManyRequests: return "too many requests";
    case kCloseInternal: return "internal error";
    default: return fmt::format("code {}", code);
  }
}

std::string_view TypeName(const Message& message) {
  return std::visit(
      [](const auto& m) -> std::string_view {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello>) return "hello";
        else if constexpr (std::is_same_v<T, Welcome>) return "welcome";
        else if constexpr (std::is_same_v<T, Ack>) return "ack";
        else if constexpr (std::is_same_v<T, StreamMessage>)
          return m.kind == StreamMessage::Kind::kSnapshot ? "snapshot" : "delta";
        else if constexpr (std::is_same_v<T, Request>) return "request";
        else if constexpr (std::is_same_v<T, Response>) return "response";
        else if constexpr (std::is_same_v<T, Progress>) return "progress";
        else return "error";
      },
      message);
}

std::string Validate(const Message& message) {
  return std::visit([](const auto& m) { return ValidateOne(m); }, message);
}

DecodeResult Decode(std::string_view text, int64_t max_bytes) {
  if (static_cast<int64_t>(text.size()) > max_bytes) {
    return Fail(DecodeErrorKind::kTooLarge,
                fmt::format("message of {} bytes exceeds the limit of {}", text.size(), max_bytes));
  }
  if (json::NestingDepth(text) > kMaxDepth) {
    return Fail(DecodeErrorKind::kInvalidJson,
                fmt::format("JSON nested deeper than {} levels", kMaxDepth));
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Fail(DecodeErrorKind::kInvalidJson,
                fmt::format("invalid JSON at offset {}: {}", doc.GetErrorOffset(),
                            rapidjson::GetParseError_En(doc.GetParseError())));
  }
  if (!doc.IsObject()) return Fail(DecodeErrorKind::kBadEnvelope, "message must be a JSON object");
  if (doc.MemberCount() > kMaxEnvelopeMembers) {
    return Fail(DecodeErrorKind::kBadEnvelope, "too many members in the envelope");
  }
  if (json::HasDuplicateMembers(doc, json::MemberScope::kTopLevel)) {
    return Fail(DecodeErrorKind::kBadEnvelope, "duplicate member names in the envelope");
  }
  auto v = doc.FindMember("v");
  if (v == doc.MemberEnd() || !v->value.IsInt64()) {
    return Fail(DecodeErrorKind::kBadEnvelope, "envelope member \"v\" must be an integer");
  }
  if (v->value.GetInt64() != kVersion) {
    return Fail(DecodeErrorKind::kBadEnvelope,
                fmt::format("unsupported envelope version {}", v->value.GetInt64()));
  }
  auto t = doc.FindMember("type");
  if (t == doc.MemberEnd() || !t->value.IsString() || t->value.GetStringLength() == 0 ||
      t->value.GetStringLength() > kMaxShort) {
    return Fail(DecodeErrorKind::kBadEnvelope,
                "envelope member \"type\" must be a string of 1..64 bytes");
  }
  std::string type(t->value.GetString(), t->value.GetStringLength());
  std::string id;
  auto idm = doc.FindMember("id");
  if (idm != doc.MemberEnd() && idm->value.IsString() && idm->value.GetStringLength() <= kMaxId) {
    id.assign(idm->value.GetString(), idm->value.GetStringLength());
    if (!IsPrintableAscii(id)) id.clear();
  }

  Reader reader(doc, type + ".");
  std::optional<Message> message = DecodeBody(type, doc, reader);
  if (!message) {
    std::string safe_type = IsPrintableAscii(type) ? type : "<non-printable>";
    return Fail(DecodeErrorKind::kUnknownType,
                fmt::format("unknown message type \"{}\"", safe_type), safe_type, id);
  }
  if (!reader.ok()) return Fail(DecodeErrorKind::kInvalidField, reader.error(), type, id);
  if (std::string problem = Validate(*message); !problem.empty()) {
    return Fail(DecodeErrorKind::kInvalidField, std::move(problem), type, id);
  }
  DecodeResult result;
  result.message = std::move(message);
  return result;
}

std::optional<std::string> Encode(const Message& message, std::string* error) {
  std::string problem = Validate(message);
  if (problem.empty()) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    Int(w, "v", kVersion);
    Str(w, "type", TypeName(message));
    if (EncodeBody(w, message, &problem)) {
      w.EndObject();
      return std::string(buf.GetString(), buf.GetSize());
    }
  }
  if (error) *error = std::move(problem);
  return std::nullopt;
}

bool Welcome::Has(std::string_view capability) const {
  for (const auto& c : capabilities) {
    if (c == capability) return true;
  }
  return false;
}

Response ErrorResponse(std::string id, std::string code, std::string message) {
  Response r;
  r.id = std::move(id);
  r.ok = false;
  r.error = {std::move(code), std::move(message)};
  return r;
}

Error MakeError(std::string code, std::string message, std::string ref) {
  return Error{std::move(code), std::move(message), std::move(ref)};
}

}  // namespace srexpert::protocol
