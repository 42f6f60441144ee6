// Manifest text to Kubernetes objects: multi-document YAML or a JSON
// document (one object, or a List such as `kubectl get -o json` prints), as
// `helm template` or a directory of manifests produce them. Pure: the caller
// reads the bytes.
//
// Hostile input is bounded before any recursive parser sees it: the text's
// size, its nesting depth (flow brackets and block indentation), the number
// of documents, and the number of nodes after YAML alias expansion. Every
// error names the source and the 1-based document index (and line when
// known), e.g. "deploy.yaml: document 3 (line 41): unknown kind \"Deploymnet\"
// for apiVersion apps/v1".
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace srexpert::scan {

struct ManifestLimits {
  size_t max_bytes = 64u << 20;        // per source
  int max_depth = 100;                 // nesting of one document
  size_t max_documents = 200000;       // per source
  size_t max_nodes = 20u << 20;        // JSON values built from one source (alias bombs)
};

// One object read from a manifest. `doc` owns the value; List items share
// their list's document, so keep the shared_ptr.
struct Manifest {
  std::shared_ptr<rapidjson::Document> doc;
  const rapidjson::Value* value = nullptr;  // the object inside doc
  std::string source;
  int document = 0;  // 1-based index of the document in the source
  int line = 0;      // 1-based line the document starts at (0 when unknown)
  // For lookups only (Object::context_only).
  bool context_only = false;
  // Kind and apiVersion when the value lacks them (list items from the API).
  std::string kind, api_version;
};

// Appends the objects of `text` to `out`. Empty documents are skipped;
// documents of kind List (and *List) contribute their items. Returns "" on
// success, otherwise the first error (and `out` keeps the objects read
// before it).
std::string ParseManifests(std::string_view text, std::string_view source,
                           const ManifestLimits& limits, std::vector<Manifest>* out);

// Checks that `object` looks like a Kubernetes object: apiVersion and kind
// are strings, metadata.name is a string, and a kind of a built-in API group
// is one that group serves. Returns "" or what is wrong.
std::string ValidateObject(const rapidjson::Value& object);

// YAML to JSON for one YAML document already parsed by the caller is not
// exposed; ParseYamlDocument converts a standalone YAML text (the config
// file) with the same scalar typing as the manifests: quoted scalars are
// strings; plain ones follow YAML 1.1 as Kubernetes reads manifests (null,
// ~, true/false/yes/no/on/off, integers in base 10/8/16, floats).
std::string ParseYamlDocument(std::string_view text, const ManifestLimits& limits,
                              rapidjson::Document* out);

// Whether a plain (unquoted) YAML scalar with this text reads as a string
// (not null, a boolean or a number) under the typing above. Polaris pastes
// label values unquoted into YAML schemas; values that read as anything
// else never equal a label's string value.
bool YamlPlainScalarIsString(std::string_view text);

// The nesting depth of YAML (or JSON) text, counted without parsing: block
// indentation levels, sequence dashes and flow brackets outside quotes and
// comments. An upper bound of what a parser would recurse through.
int YamlNestingDepth(std::string_view text);

}  // namespace srexpert::scan
