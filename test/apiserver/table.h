// Server-side printing: the meta.k8s.io Table a client gets when its Accept
// header asks for `application/json;as=Table;v=v1;g=meta.k8s.io` (kubectl get
// does, with fallbacks). Custom resources use their CRD version's
// additionalPrinterColumns (apiextensions' tableconvertor); built-in kinds get
// Name and Age only (their kind-specific printers are not modelled, see
// docs/testing.md).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "test/apiserver/resources.h"
#include "test/apiserver/status.h"

namespace srexpert::testing {

// What a request asked for through Accept and ?includeObject=.
struct TableRequest {
  std::string group_version = "meta.k8s.io/v1";  // or meta.k8s.io/v1beta1
  std::string include_object = "Metadata";       // Metadata | Object | None
  // The Content-Type the response carries.
  std::string MediaType() const;
};

// Reads the Accept header the way the server's content negotiation does: the
// first media type it can serve wins. Returns a TableRequest when that is a
// Table; nullopt for plain JSON (anything else, including no Accept).
// `include_object` is the ?includeObject= value; a bad value is a 400.
std::optional<TableRequest> TableFromAccept(const std::string& accept,
                                            const std::string& include_object,
                                            std::optional<ApiError>* error);

// Converts an object or a list (as served for `version`) into a Table.
// `no_headers` omits columnDefinitions (watch events after the first).
json::Document ToTable(const ResourceType& type, const std::string& version,
                       const json::Value& object_or_list, const TableRequest& request,
                       bool no_headers, std::chrono::system_clock::time_point now);

// k8s.io/apimachinery/pkg/util/duration.HumanDuration: "5s", "3m20s", "2d4h".
std::string HumanDuration(std::chrono::seconds d);

// The subset of kubectl/client-go JSONPath used by printer columns:
// `.a.b`, `.a[0]`, `.a[*].b`, `.a['x.y']` and filters `[?(@.k=="v")]`
// (==, !=). Returns every match in document order; nullopt when the
// expression is not understood.
std::optional<std::vector<const json::Value*>> EvalJsonPath(const json::Value& root,
                                                            const std::string& path);

}  // namespace srexpert::testing
