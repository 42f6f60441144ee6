// Validation of built-in kinds beyond names (k8s.io/kubernetes
// pkg/apis/*/validation, apimachinery's ObjectMeta validation), with the
// real field paths and wording: labels, annotations and finalizers of every
// object; ConfigMap and Secret keys; RBAC rules, role references and
// subjects, and the immutable roleRef of bindings. Checked against
// kube-apiserver by the differential suite (errors.invalid*).
#pragma once

#include <optional>

#include "common/json.h"
#include "test/apiserver/resources.h"
#include "test/apiserver/status.h"

namespace srexpert::testing {

// The 422 Invalid a write of `obj` gets, if any. `old` is the stored object
// for updates (null on create).
std::optional<ApiError> ValidateObject(const ResourceType& type, const json::Value& obj,
                                       const json::Value* old);

}  // namespace srexpert::testing
