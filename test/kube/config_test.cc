#include "kube/config.h"

#include <catch2/catch.hpp>

#include "test/kube/temp_dir.h"

using namespace srexpert::kube;
using srexpert::kube::testing::ScopedEnv;
using srexpert::kube::testing::TempDir;

namespace {

const char* kPem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const char* kKey = "-----BEGIN PRIVATE KEY-----\nMIIBfake\n-----END PRIVATE KEY-----\n";

std::string B64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += t[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace

TEST_CASE("Kubeconfig with inline data loads the current context", "[kube][config]") {
  TempDir dir;
  std::string file = dir.Write("config", R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: other
  cluster: {server: "https://other:6443"}
- name: c1
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: )" + B64(kPem) + R"(
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: team-a}
users:
- name: u1
  user:
    token: s3cr3t
    client-certificate-data: )" + B64(kPem) + R"(
    client-key-data: )" + B64(kKey) + "\n");
  auto cfg = LoadKubeconfig(file);
  REQUIRE(cfg.ok());
  CHECK(cfg->server == "https://127.0.0.1:6443");
  CHECK(cfg->ca_pem == kPem);
  CHECK(cfg->bearer_token == "s3cr3t");
  CHECK(cfg->client_cert_pem == kPem);
  CHECK(cfg->client_key_pem == kKey);
  CHECK(cfg->ns == "team-a");
  CHECK_FALSE(cfg->insecure_skip_tls_verify);
  // Describe() is for logs: it never shows the token.
  CHECK(cfg->Describe().find("s3cr3t") == std::string::npos);
}

TEST_CASE("Kubeconfig file paths are relative to the kubeconfig's directory", "[kube][config]") {
  TempDir dir;
  dir.Write("kube/pki/ca.crt", kPem);
  dir.Write("kube/pki/client.crt", kPem);
  dir.Write("kube/pki/client.key", kKey);
  dir.Write("kube/token", "file-token\n");
  std::string file = dir.Write("kube/config", R"(current-context: x
clusters:
- name: c
  cluster: {server: "https://h:1", certificate-authority: pki/ca.crt}
users:
- name: u
  user: {tokenFile: token, client-certificate: pki/client.crt, client-key: )" +
                                                   dir.path() + R"(/kube/pki/client.key}
contexts:
- name: x
  context: {cluster: c, user: u}
)");
  auto cfg = LoadKubeconfig(file);
  REQUIRE(cfg.ok());
  CHECK(cfg->ca_pem == kPem);
  CHECK(cfg->client_cert_pem == kPem);
  CHECK(cfg->client_key_pem == kKey);
  CHECK(cfg->bearer_token_file == dir.path() + "/kube/token");
  CHECK(cfg->ns == "default");
}

TEST_CASE("Kubeconfig context override, insecure clusters and anonymous users",
          "[kube][config]") {
  TempDir dir;
  std::string file = dir.Write("config", R"(current-context: a
clusters:
- {name: c, cluster: {server: "http://h:8080", insecure-skip-tls-verify: true}}
contexts:
- {name: a, context: {cluster: missing}}
- {name: b, context: {cluster: c}}
)");
  auto cfg = LoadKubeconfig(file, "b");
  REQUIRE(cfg.ok());
  CHECK(cfg->insecure_skip_tls_verify);
  CHECK(cfg->bearer_token.empty());
  CHECK(cfg->server == "http://h:8080");
}

TEST_CASE("Kubeconfig path: flag, then first $KUBECONFIG entry, then ~/.kube/config",
          "[kube][config]") {
  {
    ScopedEnv kc("KUBECONFIG", "/a/one:/b/two");
    CHECK(ResolveKubeconfigPath("/flag/config") == "/flag/config");
    CHECK(ResolveKubeconfigPath("") == "/a/one");
  }
  {
    ScopedEnv kc("KUBECONFIG", ":/b/two");
    CHECK(ResolveKubeconfigPath("") == "/b/two");
  }
  ScopedEnv kc("KUBECONFIG", nullptr);
  ScopedEnv home("HOME", "/home/someone");
  CHECK(ResolveKubeconfigPath("") == "/home/someone/.kube/config");
}

TEST_CASE("Each broken kubeconfig yields one error naming the file and the field",
          "[kube][config]") {
  struct Broken {
    const char* what;
    std::string yaml;
    const char* expect;  // a substring of the message; the file path is checked too
  };
  const std::string cluster = "clusters:\n- {name: c1, cluster: {server: \"https://h:1\"}}\n";
  const std::string ctx = "contexts:\n- {name: dev, context: {cluster: c1, user: u1}}\n";
  const std::string good_user = "users:\n- {name: u1, user: {token: t}}\n";
  const std::vector<Broken> cases = {
      {"yaml syntax", "current-context: [dev\n", "invalid YAML at line"},
      {"not a mapping", "- just\n- a list\n", "not a kubeconfig"},
      {"no current context", cluster + ctx + good_user, "(current-context)"},
      {"unknown context", "current-context: prod\n" + cluster + ctx + good_user,
       "context \"prod\" not found in contexts (current-context)"},
      {"unknown cluster",
       "current-context: dev\nclusters:\n- {name: c2, cluster: {server: \"https://h\"}}\n" + ctx +
           good_user,
       "context \"dev\" refers to unknown cluster \"c1\" (contexts[0].context.cluster)"},
      {"unknown user", "current-context: dev\n" + cluster + ctx + "users: []\n",
       "refers to unknown user \"u1\" (contexts[0].context.user)"},
      {"context without cluster",
       "current-context: dev\ncontexts:\n- {name: dev, context: {user: u1}}\n",
       "(contexts[0].context.cluster)"},
      {"no server", "current-context: dev\nclusters:\n- {name: c1, cluster: {}}\n" + ctx + good_user,
       "cluster \"c1\" has no server (clusters[0].cluster.server)"},
      {"bad server", "current-context: dev\nclusters:\n- {name: c1, cluster: {server: h:6443}}\n" +
                         ctx + good_user,
       "(clusters[0].cluster.server)"},
      {"clusters not a list", "current-context: dev\nclusters: {c1: x}\n" + ctx + good_user,
       "must be a list (clusters)"},
      {"bad base64 CA",
       "current-context: dev\nclusters:\n- {name: c1, cluster: {server: \"https://h\", "
       "certificate-authority-data: \"!!notbase64\"}}\n" +
           ctx + good_user,
       "invalid base64 (clusters[0].cluster.certificate-authority-data)"},
      {"CA not PEM",
       "current-context: dev\nclusters:\n- {name: c1, cluster: {server: \"https://h\", "
       "certificate-authority-data: " +
           B64("hello") + "}}\n" + ctx + good_user,
       "(clusters[0].cluster.certificate-authority-data)"},
      {"missing CA file",
       "current-context: dev\nclusters:\n- {name: c1, cluster: {server: \"https://h\", "
       "certificate-authority: nope/ca.crt}}\n" +
           ctx + good_user,
       "nope/ca.crt\": No such file or directory (clusters[0].cluster.certificate-authority)"},
      {"CA data and file",
       "current-context: dev\nclusters:\n- {name: c1, cluster: {server: \"https://h\", "
       "certificate-authority: x, certificate-authority-data: " +
           B64(kPem) + "}}\n" + ctx + good_user,
       "both certificate-authority-data and certificate-authority are set"},
      {"CA with insecure",
       "current-context: dev\nclusters:\n- {name: c1, cluster: {server: \"https://h\", "
       "insecure-skip-tls-verify: true, certificate-authority-data: " +
           B64(kPem) + "}}\n" + ctx + good_user,
       "(clusters[0].cluster.insecure-skip-tls-verify)"},
      {"insecure not a bool",
       "current-context: dev\nclusters:\n- {name: c1, cluster: {server: \"https://h\", "
       "insecure-skip-tls-verify: maybe}}\n" +
           ctx + good_user,
       "must be true or false (clusters[0].cluster.insecure-skip-tls-verify)"},
      {"exec without apiVersion",
       "current-context: dev\n" + cluster + ctx +
           "users:\n- {name: u1, user: {exec: {command: aws}}}\n",
       "apiVersion is required (users[0].user.exec.apiVersion)"},
      {"exec with an unknown apiVersion",
       "current-context: dev\n" + cluster + ctx +
           "users:\n- {name: u1, user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, "
           "command: aws}}}\n",
       "is not supported (use client.authentication.k8s.io/v1 or v1beta1) "
       "(users[0].user.exec.apiVersion)"},
      {"exec without command",
       "current-context: dev\n" + cluster + ctx +
           "users:\n- {name: u1, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1}}}\n",
       "command is required (users[0].user.exec.command)"},
      {"exec v1 without interactiveMode",
       "current-context: dev\n" + cluster + ctx +
           "users:\n- {name: u1, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
           "command: aws}}}\n",
       "interactiveMode is required with client.authentication.k8s.io/v1"},
      {"exec that needs a terminal",
       "current-context: dev\n" + cluster + ctx +
           "users:\n- {name: u1, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
           "command: aws, interactiveMode: Always}}}\n",
       "interactiveMode Always needs a terminal"},
      {"exec env entry without name",
       "current-context: dev\n" + cluster + ctx +
           "users:\n- {name: u1, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, "
           "command: aws, env: [{value: x}]}}}\n",
       "(users[0].user.exec.env[0].name)"},
      {"exec args not a list",
       "current-context: dev\n" + cluster + ctx +
           "users:\n- {name: u1, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, "
           "command: aws, args: \"eks get-token\"}}}\n",
       "must be a list of strings (users[0].user.exec.args)"},
      {"exec together with a token",
       "current-context: dev\n" + cluster + ctx +
           "users:\n- {name: u1, user: {token: t, exec: {apiVersion: client.authentication.k8s.io/v1beta1, "
           "command: aws}}}\n",
       "exec together with token is ambiguous; keep one (users[0].user.exec)"},
      {"auth-provider plugin",
       "current-context: dev\n" + cluster + ctx +
           "users:\n- {name: u1, user: {auth-provider: {name: gcp}}}\n",
       "auth-provider is not supported by this client; use a token, tokenFile, a client certificate or an exec plugin (users[0].user.auth-provider)"},
      {"cert without key",
       "current-context: dev\n" + cluster + ctx + "users:\n- {name: u1, user: {client-certificate-data: " +
           B64(kPem) + "}}\n",
       "client certificate without client key (users[0].user.client-key)"},
      {"missing token file",
       "current-context: dev\n" + cluster + ctx + "users:\n- {name: u1, user: {tokenFile: /nonexistent/t}}\n",
       "(users[0].user.tokenFile)"},
      {"token not a string",
       "current-context: dev\n" + cluster + ctx + "users:\n- {name: u1, user: {token: [a, b]}}\n",
       "must be a string (users[0].user.token)"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    INFO(c.what);
    std::string file = dir.Write("config", c.yaml);
    auto cfg = LoadKubeconfig(file);
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.error().reason() == Reason::kConfig);
    CHECK_THAT(cfg.error().message(), Catch::Contains("kubeconfig " + file + ":"));
    CHECK_THAT(cfg.error().message(), Catch::Contains(c.expect));
  }
}

TEST_CASE("An exec plugin user is read as kubectl reads it", "[kube][config]") {
  TempDir dir;
  std::string file = dir.Write("sub/config", R"(
current-context: eks
clusters:
- name: c1
  cluster: {server: "https://api.example:443", certificate-authority-data: )" + B64(kPem) + R"(}
contexts:
- {name: eks, context: {cluster: c1, user: aws}}
users:
- name: aws
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws
      args: [eks, get-token, --cluster-name, prod]
      env: [{name: AWS_PROFILE, value: ops}]
      interactiveMode: Never
      provideClusterInfo: true
      installHint: install the AWS CLI
- name: local
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ./bin/get-token}
)");
  auto cfg = LoadKubeconfig(file);
  REQUIRE(cfg.ok());
  REQUIRE(cfg->exec);
  const ExecPluginConfig& e = *cfg->exec;
  CHECK(e.api_version == "client.authentication.k8s.io/v1");
  CHECK(e.command == "aws");  // a bare name is looked up in PATH
  CHECK(e.args == std::vector<std::string>{"eks", "get-token", "--cluster-name", "prod"});
  REQUIRE(e.env.size() == 1);
  CHECK(e.env[0] == std::pair<std::string, std::string>{"AWS_PROFILE", "ops"});
  CHECK(e.install_hint == "install the AWS CLI");
  CHECK(e.provide_cluster_info);
  CHECK(e.cluster_server == "https://api.example:443");
  CHECK(e.cluster_ca_pem == kPem);
  CHECK(cfg->bearer_token.empty());
  CHECK_THAT(cfg->Describe(), Catch::Contains("exec=\"aws\""));

  // A command with a path separator is relative to the kubeconfig's folder.
  std::string with_local = dir.Write(
      "sub/config2", "current-context: l\nclusters:\n- {name: c1, cluster: {server: \"https://h\"}}\n"
                     "contexts:\n- {name: l, context: {cluster: c1, user: local}}\n"
                     "users:\n- {name: local, user: {exec: {apiVersion: "
                     "client.authentication.k8s.io/v1beta1, command: ./bin/get-token}}}\n");
  auto local = LoadKubeconfig(with_local);
  REQUIRE(local.ok());
  REQUIRE(local->exec);
  CHECK(local->exec->command == dir.path() + "/sub/bin/get-token");
  CHECK_FALSE(local->exec->provide_cluster_info);
}

TEST_CASE("A missing kubeconfig names the file", "[kube][config]") {
  TempDir dir;
  auto cfg = LoadKubeconfig(dir.path() + "/absent");
  REQUIRE_FALSE(cfg.ok());
  CHECK(cfg.error().message() ==
        "kubeconfig " + dir.path() + "/absent: cannot read file: No such file or directory");
}

TEST_CASE("In-cluster config reads the service-account directory", "[kube][config]") {
  TempDir dir;
  dir.Write("token", "sa-token");
  dir.Write("ca.crt", kPem);
  dir.Write("namespace", "srexpert-system\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  auto cfg = InClusterConfig(dir.path());
  REQUIRE(cfg.ok());
  CHECK(cfg->server == "https://10.96.0.1:443");
  CHECK(cfg->bearer_token_file == dir.path() + "/token");
  CHECK(cfg->bearer_token.empty());  // read through the file, so rotation is seen
  CHECK(cfg->ca_pem == kPem);
  CHECK(cfg->ns == "srexpert-system");

  ScopedEnv v6("KUBERNETES_SERVICE_HOST", "fd00::1");
  auto cfg6 = InClusterConfig(dir.path());
  REQUIRE(cfg6.ok());
  CHECK(cfg6->server == "https://[fd00::1]:443");
}

TEST_CASE("In-cluster config fails clearly outside a pod or without the files",
          "[kube][config]") {
  TempDir dir;
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
    auto cfg = InClusterConfig(dir.path());
    REQUIRE_FALSE(cfg.ok());
    CHECK_THAT(cfg.error().message(), Catch::Contains("KUBERNETES_SERVICE_HOST"));
  }
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.0.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  auto no_token = InClusterConfig(dir.path());
  REQUIRE_FALSE(no_token.ok());
  CHECK_THAT(no_token.error().message(), Catch::Contains(dir.path() + "/token"));
  dir.Write("token", "t");
  auto no_ca = InClusterConfig(dir.path());
  REQUIRE_FALSE(no_ca.ok());
  CHECK_THAT(no_ca.error().message(), Catch::Contains(dir.path() + "/ca.crt"));
}
