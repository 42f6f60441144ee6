// Request bodies in application/vnd.kubernetes.protobuf, the media type
// client-go's typed clients send (kubectl create <generator>, kubectl drain's
// evictions, Helm's release Secrets and their deletes). The body is the
// magic "k8s\0" followed by a runtime.Unknown message
// (k8s.io/apimachinery/pkg/runtime/generated.proto):
//   1 typeMeta {1 apiVersion, 2 kind}, 2 raw (the object's own generated.proto
//   message), 3 contentEncoding, 4 contentType.
// The object is decoded into the JSON a JSON client sends for it, so the
// rest of the server handles one form. Debian ships no Kubernetes .proto
// files: the messages below are written out by field number from the
// generated.proto files of k8s.io/api v0.26 (core/v1, policy/v1, rbac/v1) and
// apimachinery meta/v1, whose wire format is stable.
//
// Decoded kinds: Secret, ConfigMap, Namespace, ServiceAccount (core/v1),
// Eviction (policy/v1), Role, ClusterRole, RoleBinding, ClusterRoleBinding
// (rbac.authorization.k8s.io/v1) and DeleteOptions (any apiVersion), with
// the whole of ObjectMeta. A field number the table does not know is
// refused (400), never dropped: the server must not store a different
// object from the one sent.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "common/json.h"
#include "test/apiserver/status.h"

namespace srexpert::testing {

inline constexpr const char* kProtobufMediaType = "application/vnd.kubernetes.protobuf";

// True when DecodeProtobuf knows `kind` of `api_version` ("v1", "policy/v1").
bool ProtobufKindSupported(std::string_view api_version, std::string_view kind);

// The JSON object (with apiVersion and kind from the envelope's typeMeta) of
// a protobuf body; a 400 naming what is wrong for a malformed body, and the
// real server's 415 for a kind DecodeProtobuf does not know.
std::variant<json::Document, ApiError> DecodeProtobuf(std::string_view body);

}  // namespace srexpert::testing
