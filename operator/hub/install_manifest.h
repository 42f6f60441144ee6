// The one-line install served by srexpert-hub:
//
//   curl -fsSL "https://<hub>/install.yaml?token=<token>" | kubectl apply -f -
//
// answers manifests/install.yaml (embedded at build time) with that
// cluster's token, name, the hub's public tunnel URL and the CA agents must
// trust filled in. Served on the tunnel listener (the public HTTPS port the
// agents dial), next to /healthz.
//
// The template's placeholders are the values scripts/gen-manifests.sh renders,
// each found as "<key>: <quoted placeholder>" at the start of a line (after
// indentation) exactly once:
//   token: "REPLACE_WITH_REGISTRATION_TOKEN"       Secret stringData
//   clusterName: "my-cluster"                      bootstrap AgentConfig
//   url: "wss://connect.srexpert.io/agent"         bootstrap AgentConfig
// plus `insecure: false` right after the url line, and a caBundle line added
// after it. Every value is written as a YAML double-quoted scalar with all
// control characters escaped, so no value can end its line, its block
// scalar, or start new YAML structure.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace srexpert::hub {

class TokenStore;

struct InstallValues {
  std::string cluster_name;
  std::string token;
  std::string backend_url;  // wss:// (ws:// also sets backend.insecure)
  std::string ca_bundle;    // PEM; empty: the agents use the system CAs only
};

// Pure: template text + values → YAML. nullopt and `error` when a
// placeholder is missing or ambiguous (a template that does not fit).
std::optional<std::string> RenderInstallManifest(std::string_view install_template,
                                                 const InstallValues& values, std::string* error);

// A YAML double-quoted scalar (also valid JSON) holding `s`.
std::string YamlQuote(std::string_view s);

// manifests/install.yaml as it was when this binary was built.
std::string_view EmbeddedInstallTemplate();

// Only the PEM CERTIFICATE blocks of `pem` (a key in the same file is never
// served), each ending in a newline.
std::string CertificatesOnly(std::string_view pem);

struct InstallEndpointOptions {
  // wss://<public host>[:port]/api/v1/tunnel as agents reach the hub; empty:
  // the endpoint answers 503.
  std::string public_url;
  // PEM bundle for the agents' backend.caBundle. Empty: the certificates of
  // tls_cert_file (the hub's chain), which works when it holds a self-signed
  // certificate or its root; with a publicly trusted chain it is harmless.
  std::string public_ca_file;
  std::string tls_cert_file;
  std::string tokens_file;
};

class InstallEndpoint {
 public:
  explicit InstallEndpoint(InstallEndpointOptions options);
  ~InstallEndpoint();
  // Checks the URL and reads the CA and the tokens; false and `error` when
  // one of them is unusable.
  bool Load(std::string* error);

  struct Response {
    int status = 404;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  // nullopt for any path but /install.yaml. GET or HEAD only; the token comes
  // from the query (?token=...). 401 unknown or missing token, 403 disabled
  // cluster, 503 without a public URL. Logs the cluster, never the token.
  std::optional<Response> Handle(std::string_view method, std::string_view target) const;

 private:
  InstallEndpointOptions options_;
  std::string ca_bundle_;
  std::unique_ptr<TokenStore> tokens_;
};

// Percent-decodes the value of `key` in a URL query string ("a=1&token=x").
std::optional<std::string> QueryParam(std::string_view query, std::string_view key);

}  // namespace srexpert::hub
