// AgentConfig objects shared by the api and controller tests.
#pragma once

#include <string>
#include <string_view>

#include "common/json.h"

namespace srexpert::testing {

inline constexpr std::string_view kTestToken = "tok-3f9a1c77e2b04d5aa8e6";

// A self-signed EC certificate (CN=srexpert-test-ca, valid until 2126).
inline constexpr std::string_view kTestCaPem = R"(-----BEGIN CERTIFICATE-----
MIIBjDCCATOgAwIBAgIUQ+kUjzq7VNDZfK5F2lm4fIESgmMwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQc3JleHBlcnQtdGVzdC1jYTAgFw0yNjExMjQxODA1MjhaGA8y
MTI2MTAzMTE4MDUyOFowGzEZMBcGA1UEAwwQc3JleHBlcnQtdGVzdC1jYTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABDF8UEL/EiXH2xLcsZCSu9ndmVkhA48Utlcm
rhYtcSs126lHRH9RN+JZ31zh/SeefUn73PP45Pn2xheamdbSeUejUzBRMB0GA1Ud
DgQWBBRuSHagx8OMfAd2aJEamyr/IiM1+DAfBgNVHSMEGDAWgBRuSHagx8OMfAd2
aJEamyr/IiM1+DAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIBaF
5JDEbtXavai45s9uGmFMaLoLMVifgG3t+pCIrElkAiBXyIi6OkdMkF5CdQRJPRQx
NlxCyoU6su7EXxTrkXoj7Q==
-----END CERTIFICATE-----
)";

// Only the required fields, as a user would write them.
inline json::Document MinimalAgentConfig() {
  return *json::Parse(R"({
    "apiVersion": "agent.srexpert.io/v1alpha1",
    "kind": "AgentConfig",
    "metadata": {"name": "srexpert-agent", "namespace": "srexpert-system",
                 "uid": "0b6c3c2e-ac00-4d5e-9f00-000000000001", "generation": 3},
    "spec": {
      "backend": {"url": "wss://connect.example.com/agent"},
      "token": {"value": "tok-3f9a1c77e2b04d5aa8e6"},
      "clusterName": "prod-eu-1"
    }
  })");
}

// Every spec field set, none to its default.
inline json::Document FullAgentConfig() {
  auto doc = *json::Parse(R"({
    "apiVersion": "agent.srexpert.io/v1alpha1",
    "kind": "AgentConfig",
    "metadata": {"name": "edge", "namespace": "monitoring",
                 "uid": "0b6c3c2e-ac00-4d5e-9f00-000000000002", "generation": 7},
    "spec": {
      "backend": {
        "url": "ws://hub.dev.example.com:8080/agent",
        "insecure": true,
        "caBundle": "",
        "proxy": {"url": "http://proxy.corp.example:3128", "noProxy": ["10.0.0.0/8", ".svc"]}
      },
      "token": {"secretRef": {"name": "srexpert-registration", "key": "registration-token"}},
      "clusterName": "edge-1",
      "agent": {
        "image": "registry.example.com/srexpert/agent:1.2.3",
        "imagePullPolicy": "Always",
        "imagePullSecrets": [{"name": "regcred"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"cpu": 1, "memory": "512Mi"}},
        "nodeSelector": {"node-role.example.com/edge": "true"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "edge",
                         "effect": "NoExecute", "tolerationSeconds": 300}],
        "priorityClassName": "system-node-critical",
        "podLabels": {"team": "sre"},
        "podAnnotations": {"example.com/scrape": "false"},
        "logLevel": "debug"
      },
      "leaderElection": {"leaseDuration": "30s", "renewDeadline": "20s", "retryPeriod": "4s"},
      "tunnel": {"pingInterval": "15s", "pongTimeout": "5s",
                 "backoff": {"initial": "500ms", "max": "2m", "multiplier": 1.5},
                 "maxMessageBytes": 1048576},
      "collection": {"events": false, "metrics": false, "excludedNamespaces": ["kube-public"],
                     "metricsInterval": "30s", "eventsPerSecond": 12.5, "eventBurst": 40},
      "stream": {"maxUnackedBytes": 8388608, "maxUnackedMessages": 512, "batchInterval": "100ms"},
      "scans": {"enabled": false, "interval": "6h",
                "checks": {"hostIPCSet": "warning", "pss-volume-types": "ignore",
                           "imageFromRegistry": "danger", "noLatestTag": "warning"},
                "exemptions": [{"namespace": "kube-system", "controllerNames": ["coredns"],
                                "containerNames": ["sidecar"], "rules": ["hostNetworkSet"]}],
                "disallowExemptions": true, "disallowConfigExemptions": true,
                "disallowAnnotationExemptions": true,
                "customChecks": {
                  "imageFromRegistry": {
                    "successMessage": "Image comes from the company registry",
                    "failureMessage": "Image must come from registry.example",
                    "category": "Security", "target": "Container", "schemaTarget": "PodSpec",
                    "controllers": {"include": ["Deployment"], "exclude": ["Job"]},
                    "containers": {"include": ["container"], "exclude": ["initContainer"]},
                    "schema": {"$schema": "http://json-schema.org/draft/2019-09/schema",
                               "properties": {"containers": {"items": {"properties": {
                                 "image": {"pattern": "^registry\\.example/"}}}}}}},
                  "noLatestTag": {
                    "category": "Reliability", "target": "apps/Deployment",
                    "schemaString": "properties:\n  metadata:\n    required: [labels]\n"}}},
      "actions": {"scale": true, "restart": true, "deletePods": true, "nodes": true,
                  "applyManifests": true, "helm": true, "namespaces": ["shop", "payments"]}
    }
  })");
  json::SetString(*json::FindMutable(doc, {"spec", "backend"}), "caBundle", kTestCaPem,
                  doc.GetAllocator());
  return doc;
}

// `base` with an RFC 7386 merge patch applied (null removes a field).
inline json::Document Patched(json::Document base, std::string_view merge_patch) {
  auto patch = json::Parse(merge_patch);
  json::MergePatch(base, *patch, base.GetAllocator());
  return base;
}

}  // namespace srexpert::testing
