#include "kube/config.h"

#include "common/base64.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "common/log.h"

namespace srexpert::kube {

namespace fs = std::filesystem;

namespace {

// Reads a whole file; on failure `error` gets strerror (no exceptions).
bool ReadFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    *error = "read error";
    return false;
  }
  *out = ss.str();
  return true;
}

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}


bool LooksLikePem(const std::string& s, std::string_view what) {
  return s.find(fmt::format("-----BEGIN {}", what)) != std::string::npos;
}

bool ValidServerUrl(const std::string& s) {
  auto starts = [&](std::string_view p) { return s.rfind(p, 0) == 0 && s.size() > p.size(); };
  return starts("https://") || starts("http://");
}

// Accumulates the context of kubeconfig errors: one message names the file
// and the field.
class KubeconfigReader {
 public:
  explicit KubeconfigReader(std::string file) : file_(std::move(file)) {
    dir_ = fs::path(file_).parent_path();
  }

  Error Fail(const std::string& what, const std::string& field) const {
    return Error(Reason::kConfig, field.empty()
                                      ? fmt::format("kubeconfig {}: {}", file_, what)
                                      : fmt::format("kubeconfig {}: {} ({})", file_, what, field));
  }

  // A scalar string member; "" when absent. Fails for non-scalars.
  Result<std::string> Scalar(const YAML::Node& node, const char* key,
                             const std::string& field) const {
    YAML::Node v = node[key];
    if (!v || v.IsNull()) return std::string();
    if (!v.IsScalar()) return Fail("must be a string", field);
    return v.Scalar();
  }

  Result<bool> Bool(const YAML::Node& node, const char* key, const std::string& field) const {
    YAML::Node v = node[key];
    if (!v || v.IsNull()) return false;
    bool b = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) {
      return Fail("must be true or false", field);
    }
    return b;
  }

  // A relative path in a kubeconfig is relative to the kubeconfig's directory.
  std::string ResolvePath(const std::string& p) const {
    fs::path path(p);
    if (path.is_absolute() || dir_.empty()) return p;
    return (dir_ / path).lexically_normal().string();
  }

  // Inline base64 `data_key` or file `path_key` (both set is an error, as in
  // client-go's validation). Empty result when neither is set.
  Result<std::string> DataOrFile(const YAML::Node& node, const char* data_key,
                                 const char* path_key, const std::string& base) const {
    auto data = Scalar(node, data_key, base + "." + data_key);
    if (!data) return data.error();
    auto path = Scalar(node, path_key, base + "." + path_key);
    if (!path) return path.error();
    if (!data->empty() && !path->empty()) {
      return Fail(fmt::format("both {} and {} are set", data_key, path_key),
                  base + "." + data_key);
    }
    std::string out;
    if (!data->empty()) {
      auto decoded = base64::Decode(*data);  // kubeconfig *-data: standard base64
      if (!decoded) return Fail("invalid base64", base + "." + data_key);
      out = std::move(*decoded);
      return out;
    }
    if (!path->empty()) {
      std::string resolved = ResolvePath(*path), err;
      if (!ReadFile(resolved, &out, &err)) {
        return Fail(fmt::format("cannot read \"{}\": {}", resolved, err), base + "." + path_key);
      }
    }
    return out;
  }

  // Finds the entry named `name` in the list `key`; its index goes to *index.
  Result<std::optional<YAML::Node>> Named(const YAML::Node& root, const char* key, const std::string& name,
                           size_t* index) const {
    YAML::Node list = root[key];
    if (list && !list.IsNull() && !list.IsSequence()) return Fail("must be a list", key);
    if (!list || list.IsNull()) return std::optional<YAML::Node>();
    for (size_t i = 0; i < list.size(); ++i) {
      YAML::Node entry = list[i];
      if (!entry.IsMap()) return Fail("must be a mapping", fmt::format("{}[{}]", key, i));
      YAML::Node n = entry["name"];
      if (n && n.IsScalar() && n.Scalar() == name) {
        *index = i;
        return std::optional<YAML::Node>(entry);
      }
    }
    return std::optional<YAML::Node>();
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
  fs::path dir_;
};

// users[].user.exec, validated as client-go does. The cluster fields are
// already in `cfg` (provideClusterInfo passes them to the plugin).
Result<ExecPluginConfig> ParseExec(const KubeconfigReader& r, const YAML::Node& exec,
                                   const std::string& base, const RestConfig& cfg) {
  if (!exec.IsMap()) return r.Fail("must be a mapping", base);
  ExecPluginConfig e;
  e.source = fmt::format("kubeconfig {} ({})", r.file(), base);
  auto api_version = r.Scalar(exec, "apiVersion", base + ".apiVersion");
  if (!api_version) return api_version.error();
  if (*api_version != "client.authentication.k8s.io/v1" &&
      *api_version != "client.authentication.k8s.io/v1beta1") {
    return r.Fail(api_version->empty()
                      ? std::string("apiVersion is required")
                      : fmt::format("apiVersion \"{}\" is not supported (use "
                                    "client.authentication.k8s.io/v1 or v1beta1)",
                                    *api_version),
                  base + ".apiVersion");
  }
  e.api_version = *api_version;
  auto command = r.Scalar(exec, "command", base + ".command");
  if (!command) return command.error();
  if (command->empty()) return r.Fail("command is required", base + ".command");
  // As kubectl: a command with a path separator is relative to the
  // kubeconfig's directory; a bare name is looked up in PATH.
  e.command = command->find('/') == std::string::npos ? *command : r.ResolvePath(*command);
  YAML::Node args = exec["args"];
  if (args && !args.IsNull()) {
    if (!args.IsSequence()) return r.Fail("must be a list of strings", base + ".args");
    for (size_t i = 0; i < args.size(); ++i) {
      if (!args[i].IsScalar()) {
        return r.Fail("must be a string", fmt::format("{}.args[{}]", base, i));
      }
      e.args.push_back(args[i].Scalar());
    }
  }
  YAML::Node env = exec["env"];
  if (env && !env.IsNull()) {
    if (!env.IsSequence()) return r.Fail("must be a list of {name, value}", base + ".env");
    for (size_t i = 0; i < env.size(); ++i) {
      std::string ebase = fmt::format("{}.env[{}]", base, i);
      if (!env[i].IsMap()) return r.Fail("must be a mapping with name and value", ebase);
      auto name = r.Scalar(env[i], "name", ebase + ".name");
      if (!name) return name.error();
      if (name->empty() || name->find('=') != std::string::npos) {
        return r.Fail("name must be a non-empty variable name", ebase + ".name");
      }
      auto value = r.Scalar(env[i], "value", ebase + ".value");
      if (!value) return value.error();
      e.env.emplace_back(*name, *value);
    }
  }
  auto mode = r.Scalar(exec, "interactiveMode", base + ".interactiveMode");
  if (!mode) return mode.error();
  if (mode->empty() && e.api_version == "client.authentication.k8s.io/v1") {
    return r.Fail("interactiveMode is required with client.authentication.k8s.io/v1 (Never or "
                  "IfAvailable)",
                  base + ".interactiveMode");
  }
  if (*mode == "Always") {
    return r.Fail("interactiveMode Always needs a terminal; this client runs plugins without one "
                  "(use Never or IfAvailable)",
                  base + ".interactiveMode");
  }
  if (!mode->empty() && *mode != "Never" && *mode != "IfAvailable") {
    return r.Fail(fmt::format("interactiveMode \"{}\" is not Never, IfAvailable or Always", *mode),
                  base + ".interactiveMode");
  }
  auto hint = r.Scalar(exec, "installHint", base + ".installHint");
  if (!hint) return hint.error();
  e.install_hint = *hint;
  auto provide = r.Bool(exec, "provideClusterInfo", base + ".provideClusterInfo");
  if (!provide) return provide.error();
  e.provide_cluster_info = *provide;
  e.cluster_server = cfg.server;
  e.cluster_ca_pem = cfg.ca_pem;
  e.cluster_insecure = cfg.insecure_skip_tls_verify;
  return e;
}

Result<RestConfig> ParseKubeconfig(const KubeconfigReader& r, const YAML::Node& root,
                                   const std::string& context_override) {
  if (!root.IsMap()) return r.Fail("not a kubeconfig: the document is not a mapping", "");
  RestConfig cfg;
  cfg.source = "kubeconfig " + r.file();

  std::string ctx_name = context_override;
  if (ctx_name.empty()) {
    auto cur = r.Scalar(root, "current-context", "current-context");
    if (!cur) return cur.error();
    ctx_name = *cur;
    if (ctx_name.empty()) return r.Fail("current-context is not set", "current-context");
  }
  size_t ci = 0;
  auto ctx_entry = r.Named(root, "contexts", ctx_name, &ci);
  if (!ctx_entry) return ctx_entry.error();
  if (!*ctx_entry) {
    return r.Fail(fmt::format("context \"{}\" not found in contexts", ctx_name),
                  context_override.empty() ? "current-context" : "contexts");
  }
  std::string cbase = fmt::format("contexts[{}].context", ci);
  YAML::Node ctx = (**ctx_entry)["context"];
  if (!ctx || !ctx.IsMap()) return r.Fail("missing context mapping", cbase);

  auto cluster_name = r.Scalar(ctx, "cluster", cbase + ".cluster");
  if (!cluster_name) return cluster_name.error();
  if (cluster_name->empty()) {
    return r.Fail(fmt::format("context \"{}\" names no cluster", ctx_name), cbase + ".cluster");
  }
  auto user_name = r.Scalar(ctx, "user", cbase + ".user");
  if (!user_name) return user_name.error();
  auto ns = r.Scalar(ctx, "namespace", cbase + ".namespace");
  if (!ns) return ns.error();
  if (!ns->empty()) cfg.ns = *ns;

  // Cluster.
  size_t cli = 0;
  auto cl_entry = r.Named(root, "clusters", *cluster_name, &cli);
  if (!cl_entry) return cl_entry.error();
  if (!*cl_entry) {
    return r.Fail(fmt::format("context \"{}\" refers to unknown cluster \"{}\"", ctx_name,
                              *cluster_name),
                  cbase + ".cluster");
  }
  std::string clbase = fmt::format("clusters[{}].cluster", cli);
  YAML::Node cluster = (**cl_entry)["cluster"];
  if (!cluster || !cluster.IsMap()) return r.Fail("missing cluster mapping", clbase);
  auto server = r.Scalar(cluster, "server", clbase + ".server");
  if (!server) return server.error();
  if (server->empty()) {
    return r.Fail(fmt::format("cluster \"{}\" has no server", *cluster_name), clbase + ".server");
  }
  if (!ValidServerUrl(*server)) {
    return r.Fail(fmt::format("server \"{}\" is not an http(s) URL", *server), clbase + ".server");
  }
  while (server->size() > 1 && server->back() == '/') server->pop_back();
  cfg.server = *server;
  auto insecure = r.Bool(cluster, "insecure-skip-tls-verify", clbase + ".insecure-skip-tls-verify");
  if (!insecure) return insecure.error();
  cfg.insecure_skip_tls_verify = *insecure;
  auto ca = r.DataOrFile(cluster, "certificate-authority-data", "certificate-authority", clbase);
  if (!ca) return ca.error();
  if (!ca->empty()) {
    if (!LooksLikePem(*ca, "CERTIFICATE")) {
      return r.Fail("certificate authority is not a PEM certificate",
                    clbase + ".certificate-authority" +
                        (cluster["certificate-authority-data"] ? "-data" : ""));
    }
    if (cfg.insecure_skip_tls_verify) {
      return r.Fail("a certificate authority together with insecure-skip-tls-verify is not allowed",
                    clbase + ".insecure-skip-tls-verify");
    }
    cfg.ca_pem = *ca;
  }

  // User (optional: a context without a user is anonymous).
  if (!user_name->empty()) {
    size_t ui = 0;
    auto u_entry = r.Named(root, "users", *user_name, &ui);
    if (!u_entry) return u_entry.error();
    if (!*u_entry) {
      return r.Fail(fmt::format("context \"{}\" refers to unknown user \"{}\"", ctx_name,
                                *user_name),
                    cbase + ".user");
    }
    std::string ubase = fmt::format("users[{}].user", ui);
    YAML::Node user = (**u_entry)["user"];
    if (user && !user.IsNull()) {
      if (!user.IsMap()) return r.Fail("must be a mapping", ubase);
      for (const char* unsupported : {"auth-provider", "username", "password"}) {
        if (user[unsupported]) {
          return r.Fail(fmt::format("{} is not supported by this client; use a token, tokenFile, "
                                    "a client certificate or an exec plugin",
                                    unsupported),
                        ubase + "." + unsupported);
        }
      }
      if (user["exec"]) {
        for (const char* other : {"token", "tokenFile", "client-certificate",
                                  "client-certificate-data"}) {
          if (user[other]) {
            return r.Fail(fmt::format("exec together with {} is ambiguous; keep one", other),
                          ubase + ".exec");
          }
        }
        auto exec = ParseExec(r, user["exec"], ubase + ".exec", cfg);
        if (!exec) return exec.error();
        cfg.exec = std::move(*exec);
        return cfg;
      }
      auto token = r.Scalar(user, "token", ubase + ".token");
      if (!token) return token.error();
      cfg.bearer_token = *token;
      auto token_file = r.Scalar(user, "tokenFile", ubase + ".tokenFile");
      if (!token_file) return token_file.error();
      if (!token_file->empty()) {
        cfg.bearer_token_file = r.ResolvePath(*token_file);
        std::string content, err;
        if (!ReadFile(cfg.bearer_token_file, &content, &err)) {
          return r.Fail(fmt::format("cannot read \"{}\": {}", cfg.bearer_token_file, err),
                        ubase + ".tokenFile");
        }
      }
      auto cert = r.DataOrFile(user, "client-certificate-data", "client-certificate", ubase);
      if (!cert) return cert.error();
      auto key = r.DataOrFile(user, "client-key-data", "client-key", ubase);
      if (!key) return key.error();
      if (!cert->empty() && key->empty()) {
        return r.Fail("client certificate without client key", ubase + ".client-key");
      }
      if (cert->empty() && !key->empty()) {
        return r.Fail("client key without client certificate", ubase + ".client-certificate");
      }
      if (!cert->empty() && !LooksLikePem(*cert, "CERTIFICATE")) {
        return r.Fail("client certificate is not a PEM certificate",
                      ubase + ".client-certificate" +
                          (user["client-certificate-data"] ? "-data" : ""));
      }
      if (!key->empty() && !LooksLikePem(*key, "")) {
        return r.Fail("client key is not PEM",
                      ubase + ".client-key" + (user["client-key-data"] ? "-data" : ""));
      }
      cfg.client_cert_pem = *cert;
      cfg.client_key_pem = *key;
    }
  }
  return cfg;
}

}  // namespace

std::string RestConfig::Describe() const {
  return fmt::format(
      "server={} source=\"{}\" ca={} insecure={} token={} token_file=\"{}\" exec=\"{}\" "
      "client_cert={} namespace={} qps={} burst={}",
      server, source, ca_pem.empty() ? "system" : fmt::format("<{} bytes>", ca_pem.size()),
      insecure_skip_tls_verify, bearer_token.empty() ? "none" : log::Redacted(bearer_token),
      bearer_token_file, exec ? exec->command : "", client_cert_pem.empty() ? "none" : "set", ns,
      qps, burst);
}

Result<RestConfig> InClusterConfig(const std::string& dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    return Error(Reason::kConfig,
                 "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must "
                 "be set (not running in a pod?)");
  }
  RestConfig cfg;
  cfg.source = "in-cluster " + dir;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literal
  cfg.server = fmt::format("https://{}:{}", h, port);

  std::string err, content;
  cfg.bearer_token_file = (fs::path(dir) / "token").string();
  if (!ReadFile(cfg.bearer_token_file, &content, &err)) {
    return Error(Reason::kConfig, fmt::format("in-cluster config: cannot read token \"{}\": {}",
                                              cfg.bearer_token_file, err));
  }
  std::string ca_file = (fs::path(dir) / "ca.crt").string();
  if (!ReadFile(ca_file, &cfg.ca_pem, &err)) {
    return Error(Reason::kConfig,
                 fmt::format("in-cluster config: cannot read CA \"{}\": {}", ca_file, err));
  }
  if (!LooksLikePem(cfg.ca_pem, "CERTIFICATE")) {
    return Error(Reason::kConfig,
                 fmt::format("in-cluster config: \"{}\" is not a PEM certificate", ca_file));
  }
  std::string ns;
  if (ReadFile((fs::path(dir) / "namespace").string(), &ns, &err) && !Trim(ns).empty()) {
    cfg.ns = Trim(ns);
  }
  return cfg;
}

std::string ResolveKubeconfigPath(const std::string& path) {
  if (!path.empty()) return path;
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t colon = list.find(':', start);
      std::string first = list.substr(start, colon == std::string::npos ? colon : colon - start);
      if (!first.empty()) return first;
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : "/") / ".kube" / "config").string();
}

Result<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  std::string file = ResolveKubeconfigPath(path);
  KubeconfigReader reader(file);
  std::string text, err;
  if (!ReadFile(file, &text, &err)) return reader.Fail(fmt::format("cannot read file: {}", err), "");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return reader.Fail(fmt::format("invalid YAML at line {}, column {}: {}", e.mark.line + 1,
                                   e.mark.column + 1, e.msg),
                       "");
  }
  try {
    return ParseKubeconfig(reader, root, context);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on unexpected node shapes we did not anticipate.
    return reader.Fail(fmt::format("malformed: {}", e.msg), "");
  }
}

}  // namespace srexpert::kube
