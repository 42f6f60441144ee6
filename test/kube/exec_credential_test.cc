// Exec credential plugins: real plugin processes (small shell scripts), their
// answers, their failures, and how TokenSource caches what they return.
#include "kube/exec_credential.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <filesystem>

#include "common/json.h"
#include "common/time_format.h"
#include "kube/token_source.h"
#include "test/kube/temp_dir.h"

using namespace srexpert;
using namespace srexpert::kube;
using namespace std::chrono_literals;
using srexpert::kube::testing::ReadFile;
using srexpert::kube::testing::TempDir;

namespace {

const char* kV1 = "client.authentication.k8s.io/v1";

// Writes an executable shell script and returns its path.
std::string Script(const TempDir& dir, const std::string& name, const std::string& body) {
  std::string path = dir.Write(name, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
  return path;
}

ExecPluginConfig Plugin(const std::string& command) {
  ExecPluginConfig c;
  c.api_version = kV1;
  c.command = command;
  c.source = "kubeconfig /k (users[0].user.exec)";
  return c;
}

std::string Credential(const std::string& token, const std::string& expiry = "") {
  return std::string(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)") +
         R"("status":{"token":")" + token + "\"" +
         (expiry.empty() ? "" : R"(,"expirationTimestamp":")" + expiry + "\"") + "}}";
}

}  // namespace

TEST_CASE("A plugin runs with its args, its env and KUBERNETES_EXEC_INFO, and its token is read",
          "[kube][exec]") {
  TempDir dir;
  std::string seen = dir.path() + "/seen";
  auto c = Plugin(Script(dir, "plugin",
                         "printf '%s|' \"$@\" > " + seen + "\n"
                         "printf '\\n%s\\n%s\\n' \"$AWS_PROFILE\" \"$KUBERNETES_EXEC_INFO\" >> " +
                             seen + "\n"
                             "read line && echo 'stdin was not empty' >> " + seen + "\n"
                             "echo '" + Credential("tok-123", "2026-11-25T10:00:00Z") + "'\n"));
  c.args = {"eks", "get-token", "--cluster-name", "prod"};
  c.env = {{"AWS_PROFILE", "ops"}};
  c.provide_cluster_info = true;
  c.cluster_server = "https://api.example:443";
  c.cluster_ca_pem = "PEM";

  auto cred = RunExecPlugin(c);
  REQUIRE(cred.ok());
  CHECK(cred->token == "tok-123");
  REQUIRE(cred->expiry);
  CHECK(FormatRfc3339(*cred->expiry) == "2026-11-25T10:00:00Z");

  std::string out = ReadFile(seen);
  CHECK_THAT(out, Catch::StartsWith("eks|get-token|--cluster-name|prod|\nops\n"));
  CHECK_THAT(out, !Catch::Contains("stdin was not empty"));
  auto info = json::Parse(out.substr(out.find('{'), out.rfind('}') - out.find('{') + 1));
  REQUIRE(info);
  CHECK(json::GetString(*info, {"apiVersion"}) == kV1);
  CHECK(json::GetString(*info, {"kind"}) == "ExecCredential");
  CHECK(json::GetBool(*info, {"spec", "interactive"}, true) == false);
  CHECK(json::GetString(*info, {"spec", "cluster", "server"}) == "https://api.example:443");
  CHECK(json::GetString(*info, {"spec", "cluster", "certificate-authority-data"}) == "UEVN");
}

TEST_CASE("Without provideClusterInfo the plugin is told nothing about the cluster",
          "[kube][exec]") {
  ExecPluginConfig c = Plugin("x");
  c.cluster_server = "https://secret.internal";
  auto info = json::Parse(ExecInfoJson(c));
  REQUIRE(info);
  CHECK(json::Find(*info, {"spec", "cluster"}) == nullptr);
}

TEST_CASE("Answers that are not a usable token credential are clear errors", "[kube][exec]") {
  auto c = Plugin("get-token");
  struct Case {
    const char* what;
    std::string out;
    const char* expect;
  } cases[] = {
      {"not JSON", "Please log in", "its output is not an ExecCredential JSON object"},
      {"another kind", R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"Status"})",
       "its output has kind \"Status\", want ExecCredential"},
      {"another apiVersion",
       R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}})",
       "but the kubeconfig asks for \"client.authentication.k8s.io/v1\""},
      {"no status", R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"})",
       "its output has no status"},
      {"a certificate",
       R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"x","clientKeyData":"y"}})",
       "supports token credentials only"},
      {"no token",
       R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})",
       "its output has no status.token"},
      {"bad expiry", Credential("t", "tomorrow"), "expirationTimestamp is not an RFC 3339 time"},
  };
  for (const auto& k : cases) {
    INFO(k.what);
    auto r = ParseExecCredential(c, k.out);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason() == Reason::kConfig);
    CHECK_THAT(r.error().message(),
               Catch::StartsWith("kubeconfig /k (users[0].user.exec): exec plugin \"get-token\": "));
    CHECK_THAT(r.error().message(), Catch::Contains(k.expect));
    CHECK_THAT(r.error().message(), !Catch::Contains("\"t\""));
  }
  auto no_expiry = ParseExecCredential(c, Credential("t"));
  REQUIRE(no_expiry.ok());
  CHECK_FALSE(no_expiry->expiry);
}

TEST_CASE("A plugin that cannot run, fails, hangs or floods stdout gives a clear error",
          "[kube][exec]") {
  TempDir dir;
  SECTION("not installed: the install hint is shown") {
    auto c = Plugin("srexpert-no-such-plugin");
    c.install_hint = "install it with: apt-get install srexpert-plugin";
    auto r = RunExecPlugin(c);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason() == Reason::kConfig);
    CHECK_THAT(r.error().message(), Catch::Contains("cannot run it: No such file or directory"));
    CHECK_THAT(r.error().message(), Catch::Contains("apt-get install srexpert-plugin"));
  }
  SECTION("a non-zero exit") {
    auto r = RunExecPlugin(Plugin(Script(dir, "p", "echo 'token expired, run aws sso login' >&2\nexit 3\n")));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message(), Catch::Contains("exited with status 3"));
  }
  SECTION("killed by a signal") {
    auto r = RunExecPlugin(Plugin(Script(dir, "p", "kill -9 $$\n")));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message(), Catch::Contains("killed by signal 9"));
  }
  SECTION("no answer within the timeout: killed, even if it keeps stdout open") {
    std::string pidfile = dir.path() + "/pid";
    auto c = Plugin(Script(dir, "p", "echo $$ > " + pidfile + "\nexec sleep 600\n"));
    c.timeout = 1s;
    auto r = RunExecPlugin(c);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message(), Catch::Contains("no answer within 1 s; killed"));
    std::string pid = ReadFile(pidfile);
    while (!pid.empty() && pid.back() == '\n') pid.pop_back();
    REQUIRE_FALSE(pid.empty());
    CHECK_FALSE(std::filesystem::exists("/proc/" + pid));  // reaped, not a zombie
  }
  SECTION("more than 1 MiB of output") {
    auto r = RunExecPlugin(Plugin(Script(dir, "p", "exec yes 0123456789abcdef\n")));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message(), Catch::Contains("more than 1 MiB"));
  }
}

TEST_CASE("TokenSource runs the plugin once per token lifetime, again after a 401, and keeps a "
          "live token when a run fails",
          "[kube][exec][token_source]") {
  FakeClock clock;
  int runs = 0;
  bool fail = false;
  auto runner = [&]() -> Result<ExecCredential> {
    ++runs;
    if (fail) return Error(Reason::kConfig, "plugin down");
    return ExecCredential{"t" + std::to_string(runs), clock.WallNow() + 60s};
  };
  TokenSource tokens("", "", 60s, clock, runner);
  CHECK(tokens.Refreshable());
  CHECK(tokens.Token().value() == "t1");
  CHECK(tokens.Token().value() == "t1");
  CHECK(runs == 1);

  // Renewed kExecExpirySkew before the expiry, not at it.
  clock.Advance(60s - TokenSource::kExecExpirySkew - 1s);
  CHECK(tokens.Token().value() == "t1");
  clock.Advance(2s);
  CHECK(tokens.Token().value() == "t2");

  tokens.Invalidate();
  CHECK(tokens.Token().value() == "t3");
  CHECK(runs == 3);

  // A failed run keeps the previous token while it has not expired...
  fail = true;
  tokens.Invalidate();
  CHECK(tokens.Token().value() == "t3");
  // ...and fails once it has.
  clock.Advance(61s);
  auto expired = tokens.Token();
  REQUIRE_FALSE(expired.ok());
  CHECK_THAT(expired.error().message(), Catch::Contains("plugin down"));

  // A token without expirationTimestamp lasts until invalidated.
  FakeClock c2;
  int n = 0;
  TokenSource forever("", "", 60s, c2, [&]() -> Result<ExecCredential> {
    return ExecCredential{"f" + std::to_string(++n), std::nullopt};
  });
  CHECK(forever.Token().value() == "f1");
  c2.Advance(24h);
  CHECK(forever.Token().value() == "f1");
  forever.Invalidate();
  CHECK(forever.Token().value() == "f2");
}
