// Kubernetes API errors as values, rendered as the real `Status` bodies
// (k8s.io/apimachinery/pkg/api/errors): same reason, code, message wording and
// details, so clients decoding them behave as against a real kube-apiserver.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"

namespace srexpert::testing {

struct StatusCause {
  std::string type;  // "FieldValueInvalid", "FieldManagerConflict", ...
  std::string message;
  std::string field;
};

// Which API resource an error is about: `resource` is the plural name and
// `group` its API group ("" for core), as the real errors report them.
struct GroupResource {
  std::string group;
  std::string resource;
  // "configmaps" or "deployments.apps" — the form real messages use.
  std::string String() const { return group.empty() ? resource : resource + "." + group; }
};

struct ApiError {
  ApiError() = default;
  ApiError(int c, std::string r, std::string m, std::string n = "", std::string g = "",
           std::string k = "")
      : code(c), reason(std::move(r)), message(std::move(m)), name(std::move(n)),
        group(std::move(g)), kind(std::move(k)) {}

  int code = 500;
  std::string reason;  // StatusReason, e.g. "NotFound"
  std::string message;
  // details
  std::string name;
  std::string group;
  std::string kind;
  std::vector<StatusCause> causes;
  int retry_after_seconds = 0;
  // NewGenericServerResponse always sends details, even empty ("details": {}).
  bool generic = false;

  json::Document ToStatus() const;
  std::string ToJson() const { return json::Dump(ToStatus()); }
};

// The constructors mirror apimachinery's NewNotFound, NewAlreadyExists, ...
ApiError NotFound(const GroupResource& gr, const std::string& name);
ApiError AlreadyExists(const GroupResource& gr, const std::string& name);
ApiError Conflict(const GroupResource& gr, const std::string& name, const std::string& why);
// The optimistic-concurrency failure (stale resourceVersion / precondition).
ApiError ConflictModified(const GroupResource& gr, const std::string& name);
// `kind` is the Kind ("ConfigMap"), as NewInvalid reports it.
ApiError Invalid(const std::string& group, const std::string& kind, const std::string& name,
                 std::vector<StatusCause> causes);
ApiError BadRequest(const std::string& message);
// A JSON patch that does not apply (failed test, missing path, bad
// operation): the real server's generic 422 without the patch error.
ApiError JsonPatchFailed();
ApiError MethodNotSupported(const GroupResource& gr, const std::string& verb);
ApiError Forbidden(const GroupResource& gr, const std::string& name, const std::string& why,
                   std::vector<StatusCause> causes = {});
ApiError Unauthorized();
ApiError Expired(const std::string& message);  // 410 Gone, reason "Expired"
ApiError TooManyRequests(int retry_after_seconds);
ApiError InternalError(const std::string& detail);
// `accepted` lists the media types the endpoint takes.
ApiError UnsupportedMediaType(const std::string& accepted);
ApiError NotAcceptable();
ApiError PathNotFound();  // 404 for a URL that names no resource

// One FieldValueInvalid / FieldValueRequired cause, message formatted like
// field.Invalid / field.Required ("Invalid value: \"x\": why").
StatusCause InvalidValue(const std::string& field, const std::string& value,
                         const std::string& why);
StatusCause RequiredValue(const std::string& field, const std::string& why);

}  // namespace srexpert::testing
