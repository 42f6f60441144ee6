#include "test/stream/realistic_objects.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/json.h"

namespace srexpert::testing {

namespace {

// Templates shaped like `kubectl get -o json` of a real (EKS-like) cluster;
// ${NAME} placeholders are filled by Fill().
constexpr const char* kPodTemplate = R"json({
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "annotations": {
      "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{\"prometheus.io/port\":\"9090\",\"prometheus.io/scrape\":\"true\"},\"labels\":{\"app.kubernetes.io/instance\":\"${DEPLOY}\",\"app.kubernetes.io/name\":\"${DEPLOY}\"},\"name\":\"${POD}\",\"namespace\":\"${NS}\"},\"spec\":{\"containers\":[{\"image\":\"registry.example.com/${NS}/${DEPLOY}:1.${VER}.3\",\"name\":\"app\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"512Mi\"},\"requests\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"}}},{\"image\":\"docker.io/fluent/fluent-bit:3.1.4\",\"name\":\"log-shipper\"}]}}\n",
      "prometheus.io/port": "9090",
      "prometheus.io/scrape": "true"
    },
    "creationTimestamp": "2026-11-20T09:14:05Z",
    "generateName": "${RS}-",
    "labels": {
      "app.kubernetes.io/instance": "${DEPLOY}",
      "app.kubernetes.io/name": "${DEPLOY}",
      "pod-template-hash": "${HASH}"
    },
    "managedFields": [
      {
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
          "f:metadata": {
            "f:annotations": {".": {}, "f:prometheus.io/port": {}, "f:prometheus.io/scrape": {}},
            "f:generateName": {},
            "f:labels": {".": {}, "f:app.kubernetes.io/instance": {}, "f:app.kubernetes.io/name": {}, "f:pod-template-hash": {}},
            "f:ownerReferences": {".": {}, "k:{\"uid\":\"${RSUID}\"}": {}}
          },
          "f:spec": {
            "f:containers": {
              "k:{\"name\":\"app\"}": {
                ".": {}, "f:env": {".": {}, "k:{\"name\":\"API_KEY\"}": {".": {}, "f:name": {}, "f:value": {}}, "k:{\"name\":\"DATABASE_PASSWORD\"}": {".": {}, "f:name": {}, "f:valueFrom": {".": {}, "f:secretKeyRef": {}}}, "k:{\"name\":\"DATABASE_URL\"}": {".": {}, "f:name": {}, "f:value": {}}, "k:{\"name\":\"LOG_LEVEL\"}": {".": {}, "f:name": {}, "f:valueFrom": {".": {}, "f:configMapKeyRef": {}}}},
                "f:image": {}, "f:imagePullPolicy": {},
                "f:livenessProbe": {".": {}, "f:failureThreshold": {}, "f:httpGet": {".": {}, "f:path": {}, "f:port": {}, "f:scheme": {}}, "f:initialDelaySeconds": {}, "f:periodSeconds": {}, "f:successThreshold": {}, "f:timeoutSeconds": {}},
                "f:name": {},
                "f:ports": {".": {}, "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}, "k:{\"containerPort\":9090,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}},
                "f:readinessProbe": {".": {}, "f:failureThreshold": {}, "f:httpGet": {".": {}, "f:path": {}, "f:port": {}, "f:scheme": {}}, "f:periodSeconds": {}, "f:successThreshold": {}, "f:timeoutSeconds": {}},
                "f:resources": {".": {}, "f:limits": {".": {}, "f:cpu": {}, "f:memory": {}}, "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
                "f:securityContext": {".": {}, "f:allowPrivilegeEscalation": {}, "f:capabilities": {".": {}, "f:drop": {}}, "f:readOnlyRootFilesystem": {}, "f:runAsNonRoot": {}},
                "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {},
                "f:volumeMounts": {".": {}, "k:{\"mountPath\":\"/etc/app\"}": {".": {}, "f:mountPath": {}, "f:name": {}, "f:readOnly": {}}, "k:{\"mountPath\":\"/tmp\"}": {".": {}, "f:mountPath": {}, "f:name": {}}}
              },
              "k:{\"name\":\"log-shipper\"}": {
                ".": {}, "f:env": {".": {}, "k:{\"name\":\"SHIPPER_TOKEN\"}": {".": {}, "f:name": {}, "f:value": {}}}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                "f:resources": {".": {}, "f:limits": {".": {}, "f:memory": {}}, "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
                "f:volumeMounts": {".": {}, "k:{\"mountPath\":\"/var/log/app\"}": {".": {}, "f:mountPath": {}, "f:name": {}}}
              }
            },
            "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {},
            "f:securityContext": {".": {}, "f:fsGroup": {}, "f:runAsNonRoot": {}, "f:seccompProfile": {".": {}, "f:type": {}}},
            "f:serviceAccount": {}, "f:serviceAccountName": {}, "f:terminationGracePeriodSeconds": {},
            "f:volumes": {".": {}, "k:{\"name\":\"config\"}": {".": {}, "f:configMap": {".": {}, "f:defaultMode": {}, "f:name": {}}, "f:name": {}}, "k:{\"name\":\"logs\"}": {".": {}, "f:emptyDir": {}, "f:name": {}}, "k:{\"name\":\"tmp\"}": {".": {}, "f:emptyDir": {}, "f:name": {}}}
          }
        },
        "manager": "kube-controller-manager",
        "operation": "Update",
        "time": "2026-11-20T09:14:05Z"
      },
      {
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
          "f:status": {
            "f:conditions": {"k:{\"type\":\"ContainersReady\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}, "k:{\"type\":\"Initialized\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}, "k:{\"type\":\"PodReadyToStartContainers\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}, "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}},
            "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {}, "f:phase": {}, "f:podIP": {},
            "f:podIPs": {".": {}, "k:{\"ip\":\"${PODIP}\"}": {".": {}, "f:ip": {}}},
            "f:startTime": {}
          }
        },
        "manager": "kubelet",
        "operation": "Update",
        "subresource": "status",
        "time": "2026-11-20T09:14:19Z"
      }
    ],
    "name": "${POD}",
    "namespace": "${NS}",
    "ownerReferences": [
      {"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "ReplicaSet", "name": "${RS}", "uid": "${RSUID}"}
    ],
    "resourceVersion": "${RV}",
    "uid": "${UID}"
  },
  "spec": {
    "containers": [
      {
        "env": [
          {"name": "DATABASE_URL", "value": "postgres://app@db-${VER}.${NS}.svc.cluster.local:5432/orders"},
          {"name": "API_KEY", "value": "sk-live-7Qv2xN9pLr4Tz8Wm3Kc6Hd${IDX}"},
          {"name": "DATABASE_PASSWORD", "valueFrom": {"secretKeyRef": {"key": "password", "name": "${DEPLOY}-db"}}},
          {"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"key": "log-level", "name": "${DEPLOY}-config"}}}
        ],
        "image": "registry.example.com/${NS}/${DEPLOY}:1.${VER}.3",
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 10, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
        "name": "app",
        "ports": [
          {"containerPort": 8080, "name": "http", "protocol": "TCP"},
          {"containerPort": 9090, "name": "metrics", "protocol": "TCP"}
        ],
        "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/readyz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 5, "successThreshold": 1, "timeoutSeconds": 1},
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true, "runAsNonRoot": true},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [
          {"mountPath": "/etc/app", "name": "config", "readOnly": true},
          {"mountPath": "/tmp", "name": "tmp"},
          {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-${SUFFIX}", "readOnly": true}
        ]
      },
      {
        "env": [
          {"name": "SHIPPER_TOKEN", "value": "st-0c1d2e3f4a5b6c7d${IDX}"}
        ],
        "image": "docker.io/fluent/fluent-bit:3.1.4",
        "imagePullPolicy": "IfNotPresent",
        "name": "log-shipper",
        "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "50m", "memory": "64Mi"}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [
          {"mountPath": "/var/log/app", "name": "logs"},
          {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-${SUFFIX}", "readOnly": true}
        ]
      }
    ],
    "dnsPolicy": "ClusterFirst",
    "enableServiceLinks": true,
    "nodeName": "${NODE}",
    "preemptionPolicy": "PreemptLowerPriority",
    "priority": 0,
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {"fsGroup": 2000, "runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
    "serviceAccount": "${DEPLOY}",
    "serviceAccountName": "${DEPLOY}",
    "terminationGracePeriodSeconds": 30,
    "tolerations": [
      {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
      {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}
    ],
    "volumes": [
      {"configMap": {"defaultMode": 420, "name": "${DEPLOY}-config"}, "name": "config"},
      {"emptyDir": {}, "name": "tmp"},
      {"emptyDir": {}, "name": "logs"},
      {"name": "kube-api-access-${SUFFIX}", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}]}}
    ]
  },
  "status": {
    "conditions": [
      {"lastProbeTime": null, "lastTransitionTime": "2026-11-20T09:14:09Z", "status": "True", "type": "PodReadyToStartContainers"},
      {"lastProbeTime": null, "lastTransitionTime": "2026-11-20T09:14:05Z", "status": "True", "type": "Initialized"},
      {"lastProbeTime": null, "lastTransitionTime": "2026-11-20T09:14:19Z", "status": "True", "type": "Ready"},
      {"lastProbeTime": null, "lastTransitionTime": "2026-11-20T09:14:19Z", "status": "True", "type": "ContainersReady"},
      {"lastProbeTime": null, "lastTransitionTime": "2026-11-20T09:14:05Z", "status": "True", "type": "PodScheduled"}
    ],
    "containerStatuses": [
      {
        "containerID": "containerd://9f1c3b2a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f${HEX2}",
        "image": "registry.example.com/${NS}/${DEPLOY}:1.${VER}.3",
        "imageID": "registry.example.com/${NS}/${DEPLOY}@sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904e2b7c1d3a5f6e7d8c9b0a1f2",
        "lastState": {"terminated": {"containerID": "containerd://0a1b2c3d4e5f", "exitCode": 137, "finishedAt": "2026-11-20T09:13:58Z", "reason": "OOMKilled", "startedAt": "2026-11-19T22:01:40Z"}},
        "name": "app",
        "ready": true,
        "restartCount": ${RESTARTS},
        "started": true,
        "state": {"running": {"startedAt": "2026-11-20T09:14:08Z"}}
      },
      {
        "containerID": "containerd://1e2d3c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e${HEX2}",
        "image": "docker.io/fluent/fluent-bit:3.1.4",
        "imageID": "docker.io/fluent/fluent-bit@sha256:7d2f0a1e9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f",
        "lastState": {},
        "name": "log-shipper",
        "ready": true,
        "restartCount": 0,
        "started": true,
        "state": {"running": {"startedAt": "2026-11-20T09:14:08Z"}}
      }
    ],
    "hostIP": "${HOSTIP}",
    "hostIPs": [{"ip": "${HOSTIP}"}],
    "phase": "Running",
    "podIP": "${PODIP}",
    "podIPs": [{"ip": "${PODIP}"}],
    "qosClass": "Burstable",
    "startTime": "2026-11-20T09:14:05Z"
  }
})json";

constexpr const char* kNodeTemplate = R"json({
  "apiVersion": "v1",
  "kind": "Node",
  "metadata": {
    "annotations": {
      "csi.volume.kubernetes.io/nodeid": "{\"ebs.csi.aws.com\":\"i-0${HEX}\"}",
      "node.alpha.kubernetes.io/ttl": "0",
      "volumes.kubernetes.io/controller-managed-attach-detach": "true"
    },
    "creationTimestamp": "2026-10-02T11:20:31Z",
    "labels": {
      "beta.kubernetes.io/arch": "amd64",
      "beta.kubernetes.io/instance-type": "m6i.2xlarge",
      "beta.kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
      "kubernetes.io/hostname": "${NODE}",
      "kubernetes.io/os": "linux",
      "node.kubernetes.io/instance-type": "m6i.2xlarge",
      "topology.kubernetes.io/region": "eu-west-1",
      "topology.kubernetes.io/zone": "eu-west-1${ZONE}"
    },
    "managedFields": [
      {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:node.alpha.kubernetes.io/ttl": {}, "f:volumes.kubernetes.io/controller-managed-attach-detach": {}}, "f:labels": {".": {}, "f:kubernetes.io/arch": {}, "f:kubernetes.io/hostname": {}, "f:kubernetes.io/os": {}}}}, "manager": "kubelet", "operation": "Update", "time": "2026-10-02T11:20:31Z"},
      {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:podCIDR": {}, "f:podCIDRs": {".": {}, "v:\"${PODCIDR}\"": {}}}}, "manager": "kube-controller-manager", "operation": "Update", "time": "2026-10-02T11:20:41Z"},
      {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"DiskPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"MemoryPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"PIDPressure\"}": {"f:lastHeartbeatTime": {}}, "k:{\"type\":\"Ready\"}": {"f:lastHeartbeatTime": {}, "f:lastTransitionTime": {}, "f:message": {}, "f:reason": {}, "f:status": {}}}, "f:images": {}}}, "manager": "kubelet", "operation": "Update", "subresource": "status", "time": "2026-11-24T20:59:12Z"}
    ],
    "name": "${NODE}",
    "resourceVersion": "${RV}",
    "uid": "${UID}"
  },
  "spec": {
    "podCIDR": "${PODCIDR}",
    "podCIDRs": ["${PODCIDR}"],
    "providerID": "aws:///eu-west-1${ZONE}/i-0${HEX}"
  },
  "status": {
    "addresses": [
      {"address": "${HOSTIP}", "type": "InternalIP"},
      {"address": "ip-${HOSTDASH}.eu-west-1.compute.internal", "type": "InternalDNS"},
      {"address": "ip-${HOSTDASH}.eu-west-1.compute.internal", "type": "Hostname"}
    ],
    "allocatable": {"cpu": "7910m", "ephemeral-storage": "95491281146", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "31709040Ki", "pods": "110"},
    "capacity": {"cpu": "8", "ephemeral-storage": "104845292Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "32408432Ki", "pods": "110"},
    "conditions": [
      {"lastHeartbeatTime": "${HEARTBEAT}", "lastTransitionTime": "2026-10-02T11:20:31Z", "message": "kubelet has sufficient memory available", "reason": "KubeletHasSufficientMemory", "status": "False", "type": "MemoryPressure"},
      {"lastHeartbeatTime": "${HEARTBEAT}", "lastTransitionTime": "2026-10-02T11:20:31Z", "message": "kubelet has no disk pressure", "reason": "KubeletHasNoDiskPressure", "status": "False", "type": "DiskPressure"},
      {"lastHeartbeatTime": "${HEARTBEAT}", "lastTransitionTime": "2026-10-02T11:20:31Z", "message": "kubelet has sufficient PID available", "reason": "KubeletHasSufficientPID", "status": "False", "type": "PIDPressure"},
      {"lastHeartbeatTime": "${HEARTBEAT}", "lastTransitionTime": "2026-10-02T11:20:52Z", "message": "kubelet is posting ready status", "reason": "KubeletReady", "status": "True", "type": "Ready"}
    ],
    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
    "images": [
      {"names": ["docker.io/fluent/fluent-bit@sha256:7d2f0a1e9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f", "docker.io/fluent/fluent-bit:3.1.4"], "sizeBytes": 35410512},
      {"names": ["registry.k8s.io/kube-proxy@sha256:2b1c9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b", "registry.k8s.io/kube-proxy:v1.30.2"], "sizeBytes": 29034457},
      {"names": ["registry.k8s.io/pause@sha256:7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097", "registry.k8s.io/pause:3.9"], "sizeBytes": 321520}
    ],
    "nodeInfo": {"architecture": "amd64", "bootID": "${UID}", "containerRuntimeVersion": "containerd://1.7.20", "kernelVersion": "6.1.102-111.182.amzn2023.x86_64", "kubeProxyVersion": "v1.30.2", "kubeletVersion": "v1.30.2", "machineID": "ec2${HEX}", "operatingSystem": "linux", "osImage": "Amazon Linux 2023.5.20240819", "systemUUID": "ec2${HEX}"}
  }
})json";

constexpr const char* kDeploymentTemplate = R"json({
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {
    "annotations": {
      "deployment.kubernetes.io/revision": "4",
      "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"${DEPLOY}\"},\"name\":\"${DEPLOY}\",\"namespace\":\"${NS}\"},\"spec\":{\"replicas\":${REPLICAS},\"selector\":{\"matchLabels\":{\"app.kubernetes.io/name\":\"${DEPLOY}\"}}}}\n"
    },
    "creationTimestamp": "2026-10-14T08:02:11Z",
    "generation": 4,
    "labels": {"app.kubernetes.io/name": "${DEPLOY}", "app.kubernetes.io/part-of": "${NS}"},
    "managedFields": [
      {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}, "f:app.kubernetes.io/part-of": {}}}, "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {"f:metadata": {"f:labels": {}}, "f:spec": {"f:containers": {}}}}}, "manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-11-20T09:14:03Z"},
      {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}, "f:status": {"f:availableReplicas": {}, "f:conditions": {}, "f:observedGeneration": {}, "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}}}, "manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": "2026-11-20T09:14:19Z"}
    ],
    "name": "${DEPLOY}",
    "namespace": "${NS}",
    "resourceVersion": "${RV}",
    "uid": "${UID}"
  },
  "spec": {
    "progressDeadlineSeconds": 600,
    "replicas": ${REPLICAS},
    "revisionHistoryLimit": 10,
    "selector": {"matchLabels": {"app.kubernetes.io/name": "${DEPLOY}"}},
    "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
    "template": ${TEMPLATE}
  },
  "status": {
    "availableReplicas": ${REPLICAS},
    "conditions": [
      {"lastTransitionTime": "2026-10-14T08:02:40Z", "lastUpdateTime": "2026-10-14T08:02:40Z", "message": "Deployment has minimum availability.", "reason": "MinimumReplicasAvailable", "status": "True", "type": "Available"},
      {"lastTransitionTime": "2026-10-14T08:02:11Z", "lastUpdateTime": "2026-11-20T09:14:19Z", "message": "ReplicaSet \"${RS}\" has successfully progressed.", "reason": "NewReplicaSetAvailable", "status": "True", "type": "Progressing"}
    ],
    "observedGeneration": 4,
    "readyReplicas": ${REPLICAS},
    "replicas": ${REPLICAS},
    "updatedReplicas": ${REPLICAS}
  }
})json";

constexpr const char* kReplicaSetTemplate = R"json({
  "apiVersion": "apps/v1",
  "kind": "ReplicaSet",
  "metadata": {
    "annotations": {"deployment.kubernetes.io/desired-replicas": "${REPLICAS}", "deployment.kubernetes.io/max-replicas": "${MAXREPLICAS}", "deployment.kubernetes.io/revision": "4"},
    "creationTimestamp": "2026-11-20T09:14:03Z",
    "generation": 1,
    "labels": {"app.kubernetes.io/name": "${DEPLOY}", "pod-template-hash": "${HASH}"},
    "managedFields": [
      {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/desired-replicas": {}, "f:deployment.kubernetes.io/max-replicas": {}, "f:deployment.kubernetes.io/revision": {}}, "f:labels": {".": {}, "f:app.kubernetes.io/name": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {".": {}, "k:{\"uid\":\"${DEPLOYUID}\"}": {}}}, "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {}}}, "manager": "kube-controller-manager", "operation": "Update", "time": "2026-11-20T09:14:03Z"},
      {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:availableReplicas": {}, "f:fullyLabeledReplicas": {}, "f:observedGeneration": {}, "f:readyReplicas": {}, "f:replicas": {}}}, "manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": "2026-11-20T09:14:19Z"}
    ],
    "name": "${RS}",
    "namespace": "${NS}",
    "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "Deployment", "name": "${DEPLOY}", "uid": "${DEPLOYUID}"}],
    "resourceVersion": "${RV}",
    "uid": "${UID}"
  },
  "spec": {
    "replicas": ${REPLICAS},
    "selector": {"matchLabels": {"app.kubernetes.io/name": "${DEPLOY}", "pod-template-hash": "${HASH}"}},
    "template": ${TEMPLATE}
  },
  "status": {
    "availableReplicas": ${REPLICAS},
    "fullyLabeledReplicas": ${REPLICAS},
    "observedGeneration": 1,
    "readyReplicas": ${REPLICAS},
    "replicas": ${REPLICAS}
  }
})json";

constexpr const char* kNamespaceTemplate = R"json({
  "apiVersion": "v1",
  "kind": "Namespace",
  "metadata": {
    "creationTimestamp": "2026-10-02T11:31:07Z",
    "labels": {"kubernetes.io/metadata.name": "${NS}", "pod-security.kubernetes.io/enforce": "baseline", "team": "team-${IDX}"},
    "managedFields": [
      {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}, "f:pod-security.kubernetes.io/enforce": {}, "f:team": {}}}}, "manager": "kubectl-create", "operation": "Update", "time": "2026-10-02T11:31:07Z"}
    ],
    "name": "${NS}",
    "resourceVersion": "${RV}",
    "uid": "${UID}"
  },
  "spec": {"finalizers": ["kubernetes"]},
  "status": {"phase": "Active"}
})json";

constexpr const char* kServiceTemplate = R"json({
  "apiVersion": "v1",
  "kind": "Service",
  "metadata": {
    "annotations": {
      "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"${DEPLOY}\",\"namespace\":\"${NS}\"},\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"}],\"selector\":{\"app.kubernetes.io/name\":\"${DEPLOY}\"}}}\n"
    },
    "creationTimestamp": "2026-10-14T08:02:11Z",
    "labels": {"app.kubernetes.io/name": "${DEPLOY}"},
    "managedFields": [
      {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}, "f:labels": {".": {}, "f:app.kubernetes.io/name": {}}}, "f:spec": {"f:internalTrafficPolicy": {}, "f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}, "f:targetPort": {}}}, "f:selector": {}, "f:sessionAffinity": {}, "f:type": {}}}, "manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-10-14T08:02:11Z"}
    ],
    "name": "${DEPLOY}",
    "namespace": "${NS}",
    "resourceVersion": "${RV}",
    "uid": "${UID}"
  },
  "spec": {
    "clusterIP": "${CLUSTERIP}",
    "clusterIPs": ["${CLUSTERIP}"],
    "internalTrafficPolicy": "Cluster",
    "ipFamilies": ["IPv4"],
    "ipFamilyPolicy": "SingleStack",
    "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
    "selector": {"app.kubernetes.io/name": "${DEPLOY}"},
    "sessionAffinity": "None",
    "type": "ClusterIP"
  },
  "status": {"loadBalancer": {}}
})json";

using Vars = std::initializer_list<std::pair<std::string_view, std::string>>;

// Replaces every ${KEY} of `vars` in `text`; an unfilled placeholder is a
// fixture bug and aborts.
std::string Fill(std::string_view text, Vars vars) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("${", pos);
    if (open == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    const size_t close = text.find('}', open);
    const std::string_view key = text.substr(open + 2, close - open - 2);
    bool found = false;
    for (const auto& [k, v] : vars) {
      if (k == key) {
        out.append(v);
        found = true;
        break;
      }
    }
    if (!found) {
      std::fprintf(stderr, "realistic_objects: no value for ${%.*s}\n",
                   static_cast<int>(key.size()), key.data());
      std::abort();
    }
    pos = close + 1;
  }
  return out;
}

uint64_t Fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// What the API server returns: compact JSON.
std::string Compact(const std::string& text) { return json::Dump(ParseFixture(text)); }

std::string Ip(int a, int index) {
  return fmt::format("10.{}.{}.{}", a, (index / 250) % 250, index % 250 + 2);
}

std::string ResourceVersion(std::string_view kind, std::string_view ns, std::string_view name) {
  return std::to_string(100000 + Fnv1a(kind, 0) % 1000 + Fnv1a(ns, 1) % 100000 +
                        Fnv1a(name, 2) % 10000000);
}

// The Deployment's pod template: the realistic pod's labels, annotations and
// spec, without what the scheduler, the kubelet and the admission chain add.
std::string PodTemplateJson(std::string_view ns, std::string_view deployment, bool with_hash) {
  json::Document pod = RealisticPod(ns, deployment, "template", "", 0);
  json::Document t(rapidjson::kObjectType);
  auto& a = t.GetAllocator();
  json::Value meta(rapidjson::kObjectType);
  json::Value labels(pod["metadata"]["labels"], a);
  if (!with_hash) json::Remove(labels, "pod-template-hash");
  json::Value annotations(pod["metadata"]["annotations"], a);
  json::Remove(annotations, "kubectl.kubernetes.io/last-applied-configuration");
  meta.AddMember("annotations", annotations, a);
  meta.AddMember("creationTimestamp", json::Value(), a);
  meta.AddMember("labels", labels, a);
  t.AddMember("metadata", meta, a);
  json::Value spec(pod["spec"], a);
  for (const char* k : {"nodeName", "preemptionPolicy", "priority", "serviceAccount", "tolerations",
                        "enableServiceLinks"}) {
    json::Remove(spec, k);
  }
  // The service-account token volume is added by admission, not the template.
  auto& volumes = spec["volumes"];
  volumes.Erase(volumes.End() - 1);
  for (auto& c : spec["containers"].GetArray()) {
    auto& mounts = c["volumeMounts"];
    mounts.Erase(mounts.End() - 1);
  }
  t.AddMember("spec", spec, a);
  return json::Dump(t);
}

}  // namespace

rapidjson::Document ParseFixture(const std::string& text) {
  std::string error;
  auto doc = json::Parse(text, &error);
  if (!doc) {
    std::fprintf(stderr, "realistic_objects: fixture is not JSON: %s\n", error.c_str());
    std::abort();
  }
  return std::move(*doc);
}

std::string FixtureUid(std::string_view kind, std::string_view ns, std::string_view name) {
  std::string key = fmt::format("{}/{}/{}", kind, ns, name);
  const uint64_t a = Fnv1a(key, 0x9e3779b97f4a7c15ull), b = Fnv1a(key, 0xc2b2ae3d27d4eb4full);
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffull);
}

std::string PodTemplateHash(std::string_view deployment) {
  // Kubernetes' hash alphabet: no vowels, no ambiguous characters.
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  uint64_t h = Fnv1a(deployment, 7);
  std::string out;
  for (int i = 0; i < 10; ++i) {
    out += kAlphabet[h % kAlphabet.size()];
    h /= kAlphabet.size();
  }
  return out;
}

std::string ReplicaSetName(std::string_view deployment) {
  return fmt::format("{}-{}", deployment, PodTemplateHash(deployment));
}

std::string PodName(std::string_view deployment, int index) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  uint64_t h = Fnv1a(fmt::format("{}#{}", deployment, index), 11);
  std::string suffix;
  for (int i = 0; i < 5; ++i) {
    suffix += kAlphabet[h % kAlphabet.size()];
    h /= kAlphabet.size();
  }
  return fmt::format("{}-{}", ReplicaSetName(deployment), suffix);
}

const std::vector<std::string>& RealisticPodLiteralEnvValues() {
  // The literal values of the template's env, with index 0 filled in; the
  // prefixes are unique in the template, so a test can search for them.
  static const std::vector<std::string> values = {
      "postgres://app@db-", "sk-live-7Qv2xN9pLr4Tz8Wm3Kc6Hd", "st-0c1d2e3f4a5b6c7d"};
  return values;
}

std::string RealisticPodJson(std::string_view ns, std::string_view deployment,
                             std::string_view pod_name, std::string_view node, int index) {
  const std::string rs = ReplicaSetName(deployment);
  const std::string suffix = FixtureUid("Pod", ns, pod_name).substr(0, 5);
  const std::string host_ip = Ip(0, index / 10);
  return Compact(Fill(kPodTemplate, {{"NS", std::string(ns)},
                                     {"DEPLOY", std::string(deployment)},
                                     {"POD", std::string(pod_name)},
                                     {"NODE", std::string(node)},
                                     {"RS", rs},
                                     {"RSUID", FixtureUid("ReplicaSet", ns, rs)},
                                     {"UID", FixtureUid("Pod", ns, pod_name)},
                                     {"RV", ResourceVersion("Pod", ns, pod_name)},
                                     {"HASH", PodTemplateHash(deployment)},
                                     {"IDX", std::to_string(index)},
                                     {"VER", std::to_string(Fnv1a(deployment, 5) % 7)},
                                     {"SUFFIX", suffix},
                                     {"HEX2", fmt::format("{:02x}", index % 256)},
                                     {"RESTARTS", std::to_string(index % 3)},
                                     {"PODIP", Ip(64 + (index / 62500) % 64, index)},
                                     {"HOSTIP", host_ip}}));
}

rapidjson::Document RealisticPod(std::string_view ns, std::string_view deployment,
                                 std::string_view pod_name, std::string_view node, int index) {
  return ParseFixture(RealisticPodJson(ns, deployment, pod_name, node, index));
}

std::string RealisticNodeJson(std::string_view name, int index) {
  const std::string host_ip = Ip(0, index);
  std::string host_dash = host_ip;
  for (char& c : host_dash) {
    if (c == '.') c = '-';
  }
  return Compact(
      Fill(kNodeTemplate,
           {{"NODE", std::string(name)},
            {"UID", FixtureUid("Node", "", name)},
            {"RV", ResourceVersion("Node", "", name)},
            {"HEX", fmt::format("{:016x}", Fnv1a(name, 3) >> 4)},
            {"ZONE", std::string(1, static_cast<char>('a' + index % 3))},
            {"PODCIDR", fmt::format("10.{}.{}.0/24", 64 + (index / 256) % 64, index % 256)},
            {"HOSTIP", host_ip},
            {"HOSTDASH", host_dash},
            {"HEARTBEAT", "2026-11-24T20:59:12Z"}}));
}

std::string RealisticDeploymentJson(std::string_view ns, std::string_view name, int replicas,
                                    int index) {
  (void)index;
  return Compact(Fill(kDeploymentTemplate, {{"NS", std::string(ns)},
                                            {"DEPLOY", std::string(name)},
                                            {"RS", ReplicaSetName(name)},
                                            {"UID", FixtureUid("Deployment", ns, name)},
                                            {"RV", ResourceVersion("Deployment", ns, name)},
                                            {"REPLICAS", std::to_string(replicas)},
                                            {"TEMPLATE", PodTemplateJson(ns, name, false)}}));
}

std::string RealisticReplicaSetJson(std::string_view ns, std::string_view deployment, int replicas,
                                    int index) {
  (void)index;
  const std::string rs = ReplicaSetName(deployment);
  return Compact(
      Fill(kReplicaSetTemplate, {{"NS", std::string(ns)},
                                 {"DEPLOY", std::string(deployment)},
                                 {"DEPLOYUID", FixtureUid("Deployment", ns, deployment)},
                                 {"RS", rs},
                                 {"UID", FixtureUid("ReplicaSet", ns, rs)},
                                 {"RV", ResourceVersion("ReplicaSet", ns, rs)},
                                 {"HASH", PodTemplateHash(deployment)},
                                 {"REPLICAS", std::to_string(replicas)},
                                 {"MAXREPLICAS", std::to_string(replicas + (replicas + 3) / 4)},
                                 {"TEMPLATE", PodTemplateJson(ns, deployment, true)}}));
}

std::string RealisticNamespaceJson(std::string_view name, int index) {
  return Compact(Fill(kNamespaceTemplate, {{"NS", std::string(name)},
                                           {"UID", FixtureUid("Namespace", "", name)},
                                           {"RV", ResourceVersion("Namespace", "", name)},
                                           {"IDX", fmt::format("{:02d}", index)}}));
}

std::string RealisticServiceJson(std::string_view ns, std::string_view name, int index) {
  return Compact(
      Fill(kServiceTemplate,
           {{"NS", std::string(ns)},
            {"DEPLOY", std::string(name)},
            {"UID", FixtureUid("Service", ns, name)},
            {"RV", ResourceVersion("Service", ns, name)},
            {"CLUSTERIP", fmt::format("172.20.{}.{}", (index / 250) % 250, index % 250 + 2)}}));
}

std::string NodeName(int node_index) { return fmt::format("node-{:04d}", node_index); }
std::string NamespaceName(int namespace_index) {
  return fmt::format("team-{:02d}", namespace_index);
}
std::string DeploymentName(int deployment_index) {
  // A few realistic service names, made unique by the index.
  static constexpr const char* kNames[] = {"orders", "payments", "checkout", "catalog",
                                           "search", "profile",  "cart",     "shipping"};
  return fmt::format("{}-{:04d}", kNames[deployment_index % 8], deployment_index);
}

std::string DeploymentNamespace(const ClusterLayout& layout, int deployment_index) {
  return NamespaceName(deployment_index % layout.namespaces);
}

PodPlacement PlacePod(const ClusterLayout& layout, int pod_index) {
  const int d = pod_index / layout.pods_per_deployment;
  PodPlacement p;
  p.deployment = DeploymentName(d);
  p.ns = DeploymentNamespace(layout, d);
  p.name = PodName(p.deployment, pod_index);
  p.node = NodeName(pod_index % layout.nodes);
  return p;
}

}  // namespace srexpert::testing
