// Strict decoders for the payloads of the sequenced state stream
// (docs/protocol.md, "State stream payloads"): `snapshot` and `delta`.
//
// The input is the payload object's JSON text as the envelope codec hands it
// over (protocol::StreamMessage::payload). It is hostile: nesting depth is
// bounded before parsing, nothing throws, work is linear in the input size,
// every known member is type-, size- and range-checked, duplicate member
// names anywhere in the payload are rejected, and unknown members are ignored
// (forward compatibility). A payload is either decoded completely or
// rejected with one error naming the member, e.g.
//   "changes[3].op: must be added, modified or deleted"
// so the hub never applies part of a malformed message.
//
// Embedded JSON values (`object`, events, `metrics`, `kinds`) come back as
// compact JSON text, ready to be stored and served verbatim.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace srexpert::hub {

// One object of the resource state; `ns` is "" for cluster-scoped kinds.
struct ResourceRecord {
  std::string kind;    // 1..64 bytes
  std::string ns;      // 0..253 bytes
  std::string name;    // 1..253 bytes
  std::string object;  // compact JSON object text (projected form)
};

struct SnapshotPayload {
  std::string snapshot;  // id shared by every part, 1..128 bytes
  int64_t part = 0;      // 0..2^53-1
  // Part 0 only: the `kinds` array as compact JSON text (each entry
  // {kind, available[, apiVersion][, reason]}); empty on later parts, where
  // the member is ignored.
  std::string kinds_json;
  std::vector<ResourceRecord> objects;
};

enum class ChangeOp { kAdded, kModified, kDeleted };

struct Change {
  ChangeOp op = ChangeOp::kAdded;
  // `object` is empty for kDeleted and for a kModified that carries `patch`.
  ResourceRecord resource;
  // kModified only: an RFC 7386 merge patch (compact JSON object text)
  // against the form the backend holds, instead of the whole object.
  std::string patch;
};

struct EventRecord {
  std::string uid;        // 1..128 bytes; the key
  std::string ns;         // 0..253 bytes
  // lastTimestamp, else firstTimestamp, else "" — what retention and the
  // newest-first order sort by (RFC 3339 UTC strings sort as text).
  std::string sort_time;
  std::string json;       // the whole event, compact JSON object text
};

struct DeltaPayload {
  std::vector<Change> changes;
  std::vector<EventRecord> events;
  std::optional<std::string> metrics;  // compact JSON object text
  // The latest scan report (docs/protocol.md, delta payload `scan`),
  // compact JSON object text.
  std::optional<std::string> scan;
};

// Decoded payload, or nullopt with `error` naming the offending member.
std::optional<SnapshotPayload> DecodeSnapshotPayload(std::string_view json, std::string* error);
std::optional<DeltaPayload> DecodeDeltaPayload(std::string_view json, std::string* error);

}  // namespace srexpert::hub
