#include "test/apiserver/status.h"

#include <fmt/format.h>

#include <algorithm>

namespace srexpert::testing {

json::Document ApiError::ToStatus() const {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "kind", "Status", a);
  json::SetString(d, "apiVersion", "v1", a);
  json::Set(d, "metadata", json::Value(rapidjson::kObjectType), a);
  json::SetString(d, "status", "Failure", a);
  json::SetString(d, "message", message, a);
  if (!reason.empty()) json::SetString(d, "reason", reason, a);
  json::Value details(rapidjson::kObjectType);
  if (!name.empty()) json::SetString(details, "name", name, a);
  if (!group.empty()) json::SetString(details, "group", group, a);
  if (!kind.empty()) json::SetString(details, "kind", kind, a);
  if (!causes.empty()) {
    json::Value arr(rapidjson::kArrayType);
    for (const auto& c : causes) {
      json::Value cause(rapidjson::kObjectType);
      json::SetString(cause, "reason", c.type, a);
      json::SetString(cause, "message", c.message, a);
      if (!c.field.empty()) json::SetString(cause, "field", c.field, a);
      arr.PushBack(cause, a);
    }
    json::Set(details, "causes", std::move(arr), a);
  }
  if (retry_after_seconds > 0) {
    json::Set(details, "retryAfterSeconds", json::Value(retry_after_seconds), a);
  }
  if (details.MemberCount() > 0 || generic) json::Set(d, "details", std::move(details), a);
  json::Set(d, "code", json::Value(code), a);
  return d;
}

ApiError NotFound(const GroupResource& gr, const std::string& name) {
  return {404, "NotFound", fmt::format("{} \"{}\" not found", gr.String(), name), name, gr.group,
          gr.resource};
}

ApiError AlreadyExists(const GroupResource& gr, const std::string& name) {
  return {409, "AlreadyExists", fmt::format("{} \"{}\" already exists", gr.String(), name), name,
          gr.group, gr.resource};
}

ApiError Conflict(const GroupResource& gr, const std::string& name, const std::string& why) {
  return {409, "Conflict",
          fmt::format("Operation cannot be fulfilled on {} \"{}\": {}", gr.String(), name, why),
          name, gr.group, gr.resource};
}

ApiError ConflictModified(const GroupResource& gr, const std::string& name) {
  return Conflict(gr, name,
                  "the object has been modified; please apply your changes to the latest "
                  "version and try again");
}

ApiError Invalid(const std::string& group, const std::string& kind, const std::string& name,
                 std::vector<StatusCause> causes) {
  // NewInvalid: `<Kind>[.<group>] "<name>" is invalid: <field>: <message>[, ...]`
  // (the qualified kind: "Role.rbac.authorization.k8s.io"), and a bracketed
  // list when there are several.
  // ErrorList.ToAggregate drops repeated texts from the message (the causes
  // keep them).
  std::vector<std::string> parts;
  for (const auto& c : causes) {
    std::string part = c.field.empty() ? c.message : c.field + ": " + c.message;
    if (std::find(parts.begin(), parts.end(), part) == parts.end()) parts.push_back(part);
  }
  std::string joined = parts.size() == 1 ? parts[0] : "[" + fmt::format("{}", fmt::join(parts, ", ")) + "]";
  std::string qualified = group.empty() ? kind : kind + "." + group;
  ApiError e{422, "Invalid", fmt::format("{} \"{}\" is invalid: {}", qualified, name, joined),
             name, group, kind};
  e.causes = std::move(causes);
  return e;
}

ApiError BadRequest(const std::string& message) { return {400, "BadRequest", message}; }

ApiError JsonPatchFailed() {
  ApiError e{422, "Invalid", "the server rejected our request due to an error in our request"};
  e.generic = true;
  return e;
}

ApiError MethodNotSupported(const GroupResource& gr, const std::string& verb) {
  return {405, "MethodNotAllowed",
          fmt::format("{} is not supported on resources of kind \"{}\"", verb, gr.String()), "",
          gr.group, gr.resource};
}

ApiError Forbidden(const GroupResource& gr, const std::string& name, const std::string& why,
                   std::vector<StatusCause> causes) {
  std::string msg = name.empty() ? fmt::format("{} is forbidden: {}", gr.String(), why)
                                 : fmt::format("{} \"{}\" is forbidden: {}", gr.String(), name, why);
  ApiError e{403, "Forbidden", msg, name, gr.group, gr.resource};
  e.causes = std::move(causes);
  return e;
}

ApiError Unauthorized() { return {401, "Unauthorized", "Unauthorized"}; }

ApiError Expired(const std::string& message) { return {410, "Expired", message}; }

ApiError TooManyRequests(int retry_after_seconds) {
  ApiError e{429, "TooManyRequests", "Too many requests, please try again later."};
  e.retry_after_seconds = retry_after_seconds;
  return e;
}

ApiError InternalError(const std::string& detail) {
  ApiError e{500, "InternalError", "Internal error occurred: " + detail};
  e.causes.push_back({"", detail, ""});
  return e;
}

ApiError UnsupportedMediaType(const std::string& accepted) {
  return {415, "UnsupportedMediaType",
          "the body of the request was in an unknown format - accepted media types include: " +
              accepted};
}

ApiError NotAcceptable() {
  return {406, "NotAcceptable",
          "only the following media types are accepted: application/json, application/yaml"};
}

ApiError PathNotFound() { return {404, "NotFound", "the server could not find the requested resource"}; }

StatusCause InvalidValue(const std::string& field, const std::string& value,
                         const std::string& why) {
  return {"FieldValueInvalid", fmt::format("Invalid value: \"{}\": {}", value, why), field};
}

StatusCause RequiredValue(const std::string& field, const std::string& why) {
  return {"FieldValueRequired", why.empty() ? "Required value" : "Required value: " + why, field};
}

}  // namespace srexpert::testing
