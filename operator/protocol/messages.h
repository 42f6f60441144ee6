// Tunnel protocol v1 (docs/protocol.md): message types and their strict codec,
// shared by the agent and the hub.
//
// Decode() treats its input as hostile: the size is checked before parsing,
// nesting depth is bounded, every known member is type- and range-checked, and
// nothing throws. Encode() applies the same validation to outgoing messages so
// that a peer never receives something it must reject.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace srexpert::protocol {

inline constexpr int kVersion = 1;
inline constexpr std::string_view kSubprotocol = "srexpert.v1";
// The same protocol with messages compressed as one deflate stream per
// direction (docs/protocol.md, "Compression"); preferred when both offer it.
inline constexpr std::string_view kSubprotocolDeflate = "srexpert.v1.deflate";
inline constexpr std::string_view kTunnelPath = "/api/v1/tunnel";
inline constexpr int64_t kDefaultMaxMessageBytes = 4 * 1024 * 1024;
// The smallest legal message limit, on either side (welcome.limits and the
// agent's own). A snapshot's first part carries the `kinds` list (about 22
// kinds, each reason cut to 256 bytes: well under 16 KiB) and every part must
// still hold a sizeable object; the AgentConfig CRD has the same floor for
// spec.tunnel.maxMessageBytes. docs/protocol.md, "Limits".
inline constexpr int64_t kMinMaxMessageBytes = 64 * 1024;
// Arrays and objects nested deeper than this make a message malformed,
// unknown members included (docs/protocol.md, "Limits").
inline constexpr int kMaxNestingDepth = 64;
inline constexpr int kDefaultMaxInFlightRequests = 32;
inline constexpr int64_t kMaxSeq = (int64_t{1} << 53) - 1;
// welcome.capabilities: the backend takes `progress` messages. An agent
// sends them only to a backend that lists this (docs/protocol.md, `progress`).
inline constexpr std::string_view kCapabilityProgress = "progress";

// WebSocket close codes (docs/protocol.md, "Close codes").
enum CloseCode : uint16_t {
  kCloseNormal = 1000,
  kCloseGoingAway = 1001,
  // Sent by the WebSocket layer (Beast) itself, never chosen by our code:
  // a framing violation (unmasked client frame, RSV bits without an
  // extension, bad opcode) and a text message that is not UTF-8.
  kCloseWebSocketProtocolError = 1002,
  kCloseInvalidUtf8 = 1007,
  kCloseUnauthorized = 4001,
  kCloseForbidden = 4003,
  kCloseProtocolViolation = 4400,
  kCloseHandshakeTimeout = 4408,
  kCloseSuperseded = 4409,
  kCloseTooBig = 4413,
  kCloseUnsupportedVersion = 4426,
  kCloseTooManyRequests = 4429,
  kCloseInternal = 4500,
};

// True for close codes after which reconnecting quickly cannot help (auth
// refusal, superseded, version mismatch): the agent waits the maximum delay.
bool CloseCodeWantsMaxBackoff(int code);
// True for 4001/4003: the backend refused the credentials.
bool CloseCodeIsAuthRefusal(int code);
// "superseded", "unauthorized", ... or "code <n>".
std::string CloseCodeName(int code);

struct ClusterInfo {
  std::string uid;  // metadata.uid of the kube-system Namespace
  std::string name;
  std::string kubernetes_version;
};

struct Hello {
  std::string agent_version;
  std::vector<int> protocol_versions{kVersion};
  ClusterInfo cluster;
  std::string node;
  std::string pod;
  std::vector<std::string> capabilities;
};

struct Limits {
  int64_t max_message_bytes = kDefaultMaxMessageBytes;
  int max_in_flight_requests = kDefaultMaxInFlightRequests;
};

struct Welcome {
  std::string session_id;
  int version = kVersion;
  int64_t last_ack = 0;
  Limits limits;
  // What the backend takes beyond the base protocol (kCapabilityProgress).
  // Optional on the wire; absent = none.
  std::vector<std::string> capabilities;
  bool Has(std::string_view capability) const;
};

struct Ack {
  int64_t seq = 0;
};

// Sequenced state-stream message (reserved in v1; payloads come with the
// streaming issue).
struct StreamMessage {
  enum class Kind { kSnapshot, kDelta };
  Kind kind = Kind::kDelta;
  int64_t seq = 0;
  std::string payload = "{}";  // JSON object text
  bool final = true;           // snapshot parts: last part of a snapshot
};

struct Request {
  std::string id;
  std::string kind;
  int64_t timeout_ms = 0;  // 0 = not given
  std::string payload = "{}";  // JSON object text
};

struct ErrorInfo {
  std::string code;
  std::string message;
};

struct Response {
  std::string id;
  bool ok = true;
  std::string payload = "{}";  // JSON object text; only with ok
  ErrorInfo error;             // only with !ok
};

// A report on a request still running (agent -> backend), zero or more
// before its response; only to a backend whose welcome lists
// kCapabilityProgress. The response stays the request's one outcome.
struct Progress {
  std::string id;              // the request's id
  std::string payload = "{}";  // JSON object text
};

// Session-level error not tied to a request.
struct Error {
  std::string code;
  std::string message;
  std::string ref;
};

using Message =
    std::variant<Hello, Welcome, Ack, StreamMessage, Request, Response, Progress, Error>;

// The wire "type" of a message ("hello", "snapshot", ...).
std::string_view TypeName(const Message& message);

enum class DecodeErrorKind {
  kNone,
  kTooLarge,      // longer than the allowed message size
  kInvalidJson,   // not JSON, or nested too deep
  kBadEnvelope,   // not an object, "v" missing/wrong, "type" missing/not a string
  kUnknownType,   // well-formed envelope with a type v1 does not define
  kInvalidField,  // a known member has the wrong type, range or size
};

struct DecodeError {
  DecodeErrorKind kind = DecodeErrorKind::kNone;
  std::string message;  // human-readable, safe to log and to send back
  std::string type;     // the "type" member when it could be read
  std::string id;       // the "id" member when it could be read
};

struct DecodeResult {
  std::optional<Message> message;
  DecodeError error;
  bool ok() const { return message.has_value(); }
};

// Decodes one WebSocket text message. `max_bytes` bounds the input size.
DecodeResult Decode(std::string_view text, int64_t max_bytes = kDefaultMaxMessageBytes);

// Checks a message against the v1 rules; returns an empty string when valid,
// otherwise what is wrong ("request.id: must be 1..128 printable ASCII bytes").
std::string Validate(const Message& message);

// Encodes a valid message; nullopt (and `error`) when Validate() fails or a
// payload is not a JSON object.
std::optional<std::string> Encode(const Message& message, std::string* error = nullptr);

// Convenience constructors.
Response ErrorResponse(std::string id, std::string code, std::string message);
Error MakeError(std::string code, std::string message, std::string ref = {});

}  // namespace srexpert::protocol
