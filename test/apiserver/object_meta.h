// ObjectMeta helpers shared by the storage layer and the in-server
// controllers: timestamps, UIDs, name validation and finalizer lists.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "test/apiserver/resources.h"
#include "test/apiserver/status.h"

namespace srexpert::testing {

std::string NewUid();
// generateName suffix: 5 characters from the same alphabet as
// k8s.io/apiserver's SimpleNameGenerator.
std::string RandomSuffix();

// Validates metadata.name the way the kind's strategy does (DNS-1123
// subdomain for most kinds, label for namespaces, path segment for RBAC).
std::optional<StatusCause> ValidateName(const ResourceType& type, const std::string& name);

std::vector<std::string> Finalizers(const json::Value& obj);
void SetFinalizers(json::Document& obj, const std::vector<std::string>& finalizers);
bool HasFinalizer(const json::Value& obj, const std::string& f);
bool BeingDeleted(const json::Value& obj);

std::string Name(const json::Value& obj);
std::string Namespace(const json::Value& obj);
std::string Uid(const json::Value& obj);

}  // namespace srexpert::testing
