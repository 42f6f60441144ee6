#!/usr/bin/env bash
# The whole product on a real control plane, as a user runs it: the Helm
# chart installed with the real helm, srexpert-operator and three
# srexpert-agent processes each with the token of its OWN ServiceAccount
# (never the admin kubeconfig), srexpert-hub as the backend.
#
# Checked: children and status (printer columns included), hand edits
# undone, zero writes in steady state, failover on SIGTERM and SIGKILL with
# real Lease semantics, the hub's state equal to the API's after random
# kubectl changes, the DaemonSet's pod admitted by a namespace enforcing the
# "restricted" Pod Security Standard, no request of ours ever forbidden,
# helm upgrade rolling the agents, helm uninstall.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ns=srexpert-system
name=srexpert-agent
apps=(real-shop real-pay)
cleanup_hooks+=("helm uninstall srexpert -n $ns" "for n in $ns ${apps[*]} real-pss; do k delete namespace \$n --wait=false; done")

# --- the backend: srexpert-hub with its own TLS certificate -------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=real-hub \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$work/hub.key" -out "$work/hub.crt" 2>/dev/null
token="real-$(openssl rand -hex 16)"
printf '{"clusters":[{"name":"real-cluster","token":"%s"}]}\n' "$token" >"$work/tokens.json"
"$bin_hub" --port 0 --tls-cert-file "$work/hub.crt" --tls-key-file "$work/hub.key" \
  --tokens-file "$work/tokens.json" --api-bind-address 127.0.0.1 --api-port 0 >"$logs/hub.log" 2>&1 &
pids[hub]=$!
hub_port=$(logged_port "$logs/hub.log" "hub listening" tunnelPort)
hub_api=http://127.0.0.1:$(logged_port "$logs/hub.log" "hub listening" apiPort)

# --- install with the real helm ---------------------------------------------------
audit0=$(audit_mark)
cat >"$work/values.yaml" <<YAML
agentConfig:
  clusterName: real-cluster
  backend:
    url: wss://localhost:$hub_port/api/v1/tunnel
    caBundle: |
$(sed 's/^/      /' "$work/hub.crt")
  token: {value: "$token"}
  leaderElection: {leaseDuration: 6s, renewDeadline: 4s, retryPeriod: 1s}
YAML
helm install srexpert "$root/helm/srexpert-agent" -n "$ns" --create-namespace -f "$work/values.yaml" \
  >"$logs/helm-install.log" 2>&1 || fail "helm install: $(cat "$logs/helm-install.log")"
ok "helm install"

# --- the operator, with its ServiceAccount's token -------------------------------
sa_kubeconfig "$ns" srexpert-operator "$work/operator.kubeconfig"
mapfile -t flags < <(install_ownership_flags)
start_operator "$ns" "$work/operator.kubeconfig" operator "${flags[@]}"
wait_for 60 "every child of the AgentConfig" children_exist "$ns" "$name"
ok "the operator created every child"
python3 - "$ns" "$name" <<'PY' || fail "children not as the brief says"
import json, subprocess, sys
ns, name = sys.argv[1], sys.argv[2]
k = lambda *a: json.loads(subprocess.check_output(["kubectl", "--kubeconfig", __import__("os").environ["ADMIN_KC"], *a, "-o", "json"]))
ac = k("-n", ns, "get", "agentconfig", name)
ns_obj = k("get", "namespace", ns)
def owner(obj):
    refs = obj["metadata"].get("ownerReferences", [])
    assert len(refs) == 1, (obj["kind"], refs)
    return refs[0]
for kind, n in [("serviceaccount", name), ("secret", name + "-secret"), ("configmap", name + "-config"),
                ("daemonset", name), ("role", name + "-leader-election"), ("rolebinding", name + "-leader-election")]:
    o = k("-n", ns, "get", kind, n)
    r = owner(o)
    assert r["uid"] == ac["metadata"]["uid"] and r.get("controller"), (kind, r)
    assert o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "srexpert-operator", kind
for kind in ["clusterrole", "clusterrolebinding"]:
    o = k("get", kind, name)
    r = owner(o)
    assert r["kind"] == "Namespace" and r["uid"] == ns_obj["metadata"]["uid"], (kind, r)
rules = k("get", "clusterrole", name)["rules"]
for rule in rules:
    for field in ("apiGroups", "resources", "verbs"):
        assert "*" not in rule.get(field, []), ("wildcard", rule)
    if "secrets" in rule["resources"]:
        raise AssertionError("the agent may read Secrets: %r" % rule)
assert "finalizers" not in ac["metadata"], ac["metadata"].get("finalizers")
for o in ("srexpert-operator",):
    for kind in ("clusterrole", "clusterrolebinding"):
        r = owner(k("get", kind, o))
        assert r["kind"] == "Namespace", (kind, r)
PY
ok "children owned, labelled and least-privileged as the brief says"

# --- the agents, with the agent ServiceAccount's token ----------------------------
sa_kubeconfig "$ns" "$name" "$work/agent.kubeconfig"
k -n "$ns" get configmap "$name-config" -o 'jsonpath={.data.ca\.crt}' >"$work/ca.crt"
k -n "$ns" get secret "$name-secret" -o 'jsonpath={.data.token}' | base64 -d >"$work/token"
k -n "$ns" get configmap "$name-config" -o 'jsonpath={.data.config\.json}' |
  sed -e "s#/etc/srexpert/config/ca.crt#$work/ca.crt#" -e "s#/etc/srexpert/token/token#$work/token#" >"$work/config.json"
start_agent() {
  mkdir -p "$work/agent-helm-$1"
  "$bin_agent" --kubeconfig "$work/agent.kubeconfig" --config "$work/config.json" \
    --pod-name "agent-$1" --pod-namespace "$ns" --node-name "node-$1" \
    --helm-binary "$helm_bin" --helm-home "$work/agent-helm-$1" \
    --health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 >>"$logs/agent-$1.log" 2>&1 &
  pids[agent-$1]=$!
}
for i in 1 2 3; do start_agent "$i"; done
holder() { k -n "$ns" get lease "$name-leader" -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null; }
wait_for 60 "a leader with a connected tunnel" sh -c \
  "kubectl --kubeconfig '$admin_kc' -n '$ns' get agentconfig '$name' -o 'jsonpath={.status.tunnel}' | grep -qx Connected"
wait_for 30 "the hub to list the cluster as connected" sh -c "curl -fsS '$hub_api/api/v1/clusters' | grep -q '\"connected\":true'"
ok "leader $(holder) connected to the hub"

# Status and printer columns.
cols=$(k -n "$ns" get agentconfig "$name")
echo "$cols"
grep -q 'CLUSTER *READY *LEADER *TUNNEL *SCORE *AGE' <<<"$cols" || fail "printer columns: $cols"
grep -q "real-cluster .* agent-[123] *Connected" <<<"$cols" || fail "printer column values: $cols"
python3 - <<PY || fail "status conditions"
import json, subprocess
ac = json.loads(subprocess.check_output(["kubectl", "--kubeconfig", "$admin_kc", "-n", "$ns", "get", "agentconfig", "$name", "-o", "json"]))
conds = {c["type"]: c for c in ac["status"]["conditions"]}
for t in ("Ready", "Progressing", "Degraded"):
    c = conds[t]
    assert c["observedGeneration"] == ac["metadata"]["generation"], c
    assert c["status"] in ("True", "False") and c["reason"] and c["message"] and c["lastTransitionTime"], c
assert conds["Degraded"]["status"] == "False", conds["Degraded"]
PY
ok "status conditions with observedGeneration"

# --- drift: hand edits are undone -------------------------------------------------
k -n "$ns" patch configmap "$name-config" --type merge -p '{"data":{"config.json":"{}"}}' >/dev/null
k -n "$ns" delete daemonset "$name" --wait=false >/dev/null
k patch clusterrole "$name" --type json -p '[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}}]' >/dev/null
wait_for 30 "the ConfigMap restored" sh -c "kubectl --kubeconfig '$admin_kc' -n '$ns' get configmap '$name-config' -o 'jsonpath={.data.config\\.json}' | grep -q clusterName"
wait_for 30 "the DaemonSet recreated" sh -c "kubectl --kubeconfig '$admin_kc' -n '$ns' get daemonset '$name' -o 'jsonpath={.metadata.deletionTimestamp}{.metadata.name}' | grep -qx '$name'"
wait_for 30 "the ClusterRole restored" sh -c "! kubectl --kubeconfig '$admin_kc' get clusterrole '$name' -o json | grep -q '\"secrets\"'"
ok "hand edits of the ConfigMap, DaemonSet and ClusterRole undone"

# --- steady state: zero writes ----------------------------------------------------
versions() {
  { k -n "$ns" get agentconfig,serviceaccount,secret,configmap,daemonset,role,rolebinding \
      -l app.kubernetes.io/managed-by=srexpert-operator -o 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}'
    k -n "$ns" get agentconfig "$name" -o 'jsonpath={.kind}/{.metadata.name}={.metadata.resourceVersion}{"\n"}'
    k get clusterrole,clusterrolebinding "$name" -o 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\n"}{end}'
  } | sort
}
sleep 3  # let the repairs' own events settle
before=$(versions); quiet_mark=$(audit_mark)
sleep 20
after=$(versions)
[ "$before" = "$after" ] || fail "objects changed in steady state:
$(diff <(echo "$before") <(echo "$after"))"
writes=$(audit_since "$quiet_mark" "user == 'system:serviceaccount:$ns:srexpert-operator' and verb in ('create','update','patch','delete')")
[ -z "$writes" ] || fail "the operator wrote in steady state:
$writes"
ok "20 s of steady state: no resourceVersion changed, the operator wrote nothing ($(echo "$before" | wc -l) objects)"

# --- the hub's state equals the API's after random kubectl changes ----------------
for a in "${apps[@]}"; do k create namespace "$a" >/dev/null; done
python3 - "${apps[@]}" >"$work/changes.sh" <<'PY'
import random, sys
rnd = random.Random(11)
apps, live = sys.argv[1:], set()
print("set -e")
for i in range(40):
    ns = rnd.choice(apps)
    if live and rnd.random() < 0.45:
        kind, n, obj_ns = rnd.choice(sorted(live))
        op = rnd.choice(["delete", "label", "scale"] if kind == "deployment" else ["delete", "label"])
        if op == "delete":
            live.discard((kind, n, obj_ns)); print(f"k -n {obj_ns} delete {kind} {n} --wait=false")
        elif op == "label":
            print(f"k -n {obj_ns} label --overwrite {kind} {n} step=s{i}")
        else:
            print(f"k -n {obj_ns} scale deployment {n} --replicas={rnd.randint(0, 5)}")
    else:
        kind = rnd.choice(["deployment", "configmap", "service"])
        n = f"{kind[:3]}-{i}"
        live.add((kind, n, ns))
        if kind == "deployment":
            print(f"k -n {ns} create deployment {n} --image=registry.example.com/{n}:1 --replicas={rnd.randint(1, 3)}")
        elif kind == "configmap":
            print(f"k -n {ns} create configmap {n} --from-literal=k=v{i}")
        else:
            print(f"k -n {ns} create service clusterip {n} --tcp=80:8080")
PY
( source "$work/changes.sh" ) >"$logs/changes.log" 2>&1 || fail "kubectl changes: $(tail -3 "$logs/changes.log")"
same_as_api() {
  python3 - "$hub_api" "${apps[@]}" <<'PY'
import json, os, subprocess, sys, urllib.request
hub, apps = sys.argv[1], sys.argv[2:]
def api(kind, ns):
    out = json.loads(subprocess.check_output(["kubectl", "--kubeconfig", os.environ["ADMIN_KC"], "-n", ns, "get", kind, "-o", "json"]))
    return {(ns, o["metadata"]["name"]): o for o in out["items"] if not o["metadata"].get("deletionTimestamp")}
def hub_items(kind, ns):
    with urllib.request.urlopen(f"{hub}/api/v1/clusters/real-cluster/resources?kind={kind}&namespace={ns}") as r:
        body = json.load(r)
    return {(i["namespace"], i["name"]): i for i in body["items"]}
bad = []
for kind, plural in [("Deployment", "deployments"), ("ConfigMap", "configmaps"), ("Service", "services")]:
    for ns in apps:
        a, h = api(plural, ns), hub_items(kind, ns)
        if set(a) != set(h):
            bad.append(f"{kind} in {ns}: API has {sorted(set(a) - set(h))} the hub lacks, hub has {sorted(set(h) - set(a))} extra")
            continue
        for key, obj in a.items():
            text = json.dumps(h[key])
            step = obj["metadata"].get("labels", {}).get("step")
            if step and f'"step": "{step}"' not in text:
                bad.append(f"{kind} {key}: label step={step} not in the hub's copy")
            if kind == "Deployment" and f'"replicas": {obj["spec"]["replicas"]}' not in text:
                bad.append(f"{kind} {key}: replicas {obj['spec']['replicas']} not in the hub's copy")
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
}
export ADMIN_KC=$admin_kc
wait_for 60 "the hub to hold exactly the API's objects" same_as_api
ok "after 40 random kubectl changes the hub holds exactly what the API holds"

# --- Pod Security: the agent pod passes "restricted" ------------------------------
k create namespace real-pss >/dev/null
k label namespace real-pss pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted >/dev/null
k -n "$ns" get daemonset "$name" -o json | python3 -c '
import json, sys
ds = json.load(sys.stdin)
t = ds["spec"]["template"]
# The ServiceAccount lives in the agent namespace; Pod Security does not look at it.
t["spec"].pop("serviceAccountName", None); t["spec"].pop("serviceAccount", None)
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "agent-pss", "namespace": "real-pss", "labels": t["metadata"].get("labels", {})},
                  "spec": t["spec"]}))' >"$work/pod.json"
pss=$(k create --dry-run=server -f "$work/pod.json" 2>&1) || fail "the agent pod is refused under restricted: $pss"
! grep -qi warning <<<"$pss" || fail "the agent pod draws PodSecurity warnings: $pss"
ok "the DaemonSet's pod is admitted by a restricted namespace"

# --- failover ---------------------------------------------------------------------
agent_of() { echo "${1#agent-}"; }
for signal in TERM KILL; do
  old=$(holder); i=$(agent_of "$old")
  t0=$(date +%s%N)
  kill -"$signal" "${pids[agent-$i]}"; wait "${pids[agent-$i]}" 2>/dev/null || true
  # SIGTERM releases the Lease: a standby takes it long before it could
  # expire (6 s). SIGKILL releases nothing: the Lease must expire first.
  limit=$([ "$signal" = TERM ] && echo 5 || echo 20)
  wait_for "$limit" "a new leader after SIG$signal" sh -c "h=\$(kubectl --kubeconfig '$admin_kc' -n '$ns' get lease '$name-leader' -o 'jsonpath={.spec.holderIdentity}'); [ -n \"\$h\" ] && [ \"\$h\" != '$old' ]"
  t1=$(date +%s%N)
  ok "SIG$signal of leader $old: $(holder) leads after $(((t1 - t0) / 1000000)) ms"
  if [ "$signal" = KILL ]; then
    [ "$(((t1 - t0) / 1000000))" -ge 2000 ] || fail "a SIGKILLed leader's Lease was taken before it could expire"
  fi
  wait_for 30 "the new leader's tunnel" sh -c "curl -fsS '$hub_api/api/v1/clusters' | grep -q '\"connected\":true'"
  start_agent "$i"
done

# --- an action through the hub, with the agent's real RBAC -------------------------
# scale and helm on, allowed in one namespace only: the operator writes Role
# and RoleBinding <name>-actions there (not cluster-wide), the agents restart
# on the new config.json as a DaemonSet roll would, and kube-apiserver's RBAC
# lets the agent's ServiceAccount scale there. Helm's release storage is an
# administrator's binding of the chart's srexpert-helm-release-storage
# (docs/helm.md), made here with the admin kubeconfig.
target=${apps[0]} other=${apps[1]}
k -n "$target" create deployment act-web --image=registry.example.com/web:1 --replicas=1 >/dev/null
k -n "$other" create deployment act-web --image=registry.example.com/web:1 --replicas=1 >/dev/null
k -n "$target" create rolebinding srexpert-agent-helm --clusterrole=srexpert-helm-release-storage \
  --serviceaccount="$ns:$name" >/dev/null
k -n "$ns" patch agentconfig "$name" --type merge \
  -p "{\"spec\":{\"actions\":{\"scale\":true,\"helm\":true,\"namespaces\":[\"$target\"]}}}" >/dev/null
wait_for 30 "the operator to find the release-storage binding (HelmStorageBound=True)" sh -c \
  "kubectl --kubeconfig '$admin_kc' -n '$ns' get agentconfig '$name' -o 'jsonpath={.status.conditions[?(@.type==\"HelmStorageBound\")].status}' | grep -qx True"
wait_for 30 "Role and RoleBinding $name-actions in $target" sh -c \
  "kubectl --kubeconfig '$admin_kc' -n '$target' get role/$name-actions rolebinding/$name-actions >/dev/null 2>&1"
! k get clusterrole "$name" -o json | grep -q 'deployments/scale' || fail "scale granted cluster-wide despite the allow-list"
wait_for 30 "config.json to enable scale" sh -c \
  "kubectl --kubeconfig '$admin_kc' -n '$ns' get configmap '$name-config' -o 'jsonpath={.data.config\\.json}' | grep -q '\"scale\": *true'"
for i in 1 2 3; do kill -TERM "${pids[agent-$i]}" 2>/dev/null || true; wait "${pids[agent-$i]}" 2>/dev/null || true; done
k -n "$ns" get configmap "$name-config" -o 'jsonpath={.data.config\.json}' |
  sed -e "s#/etc/srexpert/config/ca.crt#$work/ca.crt#" -e "s#/etc/srexpert/token/token#$work/token#" >"$work/config.json"
for i in 1 2 3; do start_agent "$i"; done
wait_for 30 "the new leader's tunnel" sh -c "curl -fsS '$hub_api/api/v1/clusters' | grep -q '\"connected\":true'"
hub_request() {  # KIND TIMEOUT-MS PAYLOAD-JSON -> the hub's answer
  curl -sS -X POST "$hub_api/api/v1/clusters/real-cluster/requests" -H 'Content-Type: application/json' \
    -d "{\"kind\":\"$1\",\"timeoutMs\":$2,\"payload\":$3}"
}
request() {  # KIND NAMESPACE REPLICAS -> the hub's answer
  hub_request "$1" 20000 "{\"kind\":\"Deployment\",\"namespace\":\"$2\",\"name\":\"act-web\",\"replicas\":$3,\"requestedBy\":\"real@test\"}"
}
answer=$(request workload.scale "$target" 3)
grep -q '"ok":true' <<<"$answer" || fail "workload.scale in $target: $answer"
[ "$(k -n "$target" get deployment act-web -o 'jsonpath={.spec.replicas}')" = 3 ] || fail "act-web in $target not scaled"
answer=$(request workload.scale "$other" 3)
grep -q forbidden <<<"$answer" || fail "workload.scale outside the allow-list: $answer"
[ "$(k -n "$other" get deployment act-web -o 'jsonpath={.spec.replicas}')" = 1 ] || fail "act-web in $other changed"
ok "workload.scale through the hub scaled in $target with the namespace's Role and was refused in $other"

# helm.install and helm.uninstall through the hub, run by the agent's real
# Helm with the agent's own credentials: an ordinary Helm release, which the
# user's plain `helm list` sees.
"$helm_bin" package "$root/test/actions/testdata/charts/configmap-only" -d "$work" >/dev/null
chart_b64=$(base64 -w0 "$work"/configmap-only-*.tgz)
helm_request() { hub_request "$1" 60000 "$2"; }  # KIND PAYLOAD-JSON -> the hub's answer
answer=$(helm_request helm.install "{\"namespace\":\"$target\",\"release\":\"greeter\",\"chart\":{\"archive\":\"$chart_b64\"},\"values\":{\"greeting\":\"from the hub\"},\"requestedBy\":\"real@test\"}")
grep -q '"ok":true' <<<"$answer" || fail "helm.install in $target: $answer"
[ "$(k -n "$target" get configmap greeter-settings -o 'jsonpath={.data.greeting}')" = "from the hub" ] ||
  fail "helm.install did not create greeter-settings with the values"
helm list -n "$target" -o json | grep -q '"name":"greeter"' || fail "plain helm list does not see the agent's release"
answer=$(helm_request helm.install "{\"namespace\":\"$other\",\"release\":\"greeter\",\"chart\":{\"archive\":\"$chart_b64\"}}")
grep -q forbidden <<<"$answer" || fail "helm.install outside the allow-list: $answer"
# The other way round: a release the user made with plain helm is one the
# agent lists and reads the history of.
helm install user-notes "$work"/configmap-only-*.tgz -n "$target" >/dev/null || fail "plain helm install"
answer=$(helm_request helm.list "{\"namespace\":\"$target\"}")
grep -q '"name":"user-notes"' <<<"$answer" || fail "helm.list does not show the user's release: $answer"
answer=$(helm_request helm.history "{\"namespace\":\"$target\",\"release\":\"user-notes\"}")
grep -q '"revision":1' <<<"$answer" || fail "helm.history of the user's release: $answer"
helm uninstall user-notes -n "$target" >/dev/null || fail "plain helm uninstall"
answer=$(helm_request helm.uninstall "{\"namespace\":\"$target\",\"release\":\"greeter\"}")
grep -q '"ok":true' <<<"$answer" || fail "helm.uninstall in $target: $answer"
! helm list -n "$target" -o json | grep -q '"name":"greeter"' || fail "the release is still listed after helm.uninstall"
ok "helm.install through the hub made an ordinary release plain helm lists, was refused in $other, helm.list and helm.history read a release made with plain helm, and helm.uninstall removed the agent's"
k -n "$ns" patch agentconfig "$name" --type merge -p '{"spec":{"actions":{"scale":false,"helm":false,"namespaces":[]}}}' >/dev/null
wait_for 30 "the actions' Role pruned" sh -c \
  "! kubectl --kubeconfig '$admin_kc' -n '$target' get role/$name-actions >/dev/null 2>&1"
ok "the actions' Role went with the switches"

# --- nothing of ours was ever forbidden -------------------------------------------
forbidden=$(forbidden_for "system:serviceaccount:$ns:" "$audit0")
[ -z "$forbidden" ] || fail "requests of our ServiceAccounts were forbidden:
$forbidden"
ok "no request of the operator or the agents was forbidden ($(audit_since "$audit0" "user.startswith('system:serviceaccount:$ns:')" | wc -l) requests)"

# --- helm upgrade rolls the agents, helm uninstall removes the release ------------
gen=$(k -n "$ns" get daemonset "$name" -o 'jsonpath={.metadata.generation}')
helm upgrade srexpert "$root/helm/srexpert-agent" -n "$ns" -f "$work/values.yaml" \
  --set agentConfig.tunnel.pingInterval=15s >"$logs/helm-upgrade.log" 2>&1 || fail "helm upgrade: $(cat "$logs/helm-upgrade.log")"
wait_for 30 "the ConfigMap to carry the new ping interval" sh -c \
  "kubectl --kubeconfig '$admin_kc' -n '$ns' get configmap '$name-config' -o 'jsonpath={.data.config\\.json}' | grep -q '\"pingIntervalMs\": *15000'"
wait_for 30 "the DaemonSet to roll" sh -c \
  "[ \$(kubectl --kubeconfig '$admin_kc' -n '$ns' get daemonset '$name' -o 'jsonpath={.metadata.generation}') -gt $gen ]"
ok "helm upgrade reached the ConfigMap and rolled the DaemonSet"

helm uninstall srexpert -n "$ns" >"$logs/helm-uninstall.log" 2>&1 || fail "helm uninstall: $(cat "$logs/helm-uninstall.log")"
wait_for 60 "the AgentConfig and its namespaced children to go" sh -c \
  "[ -z \"\$(kubectl --kubeconfig '$admin_kc' -n '$ns' get agentconfig,daemonset,configmap,serviceaccount -o name -l app.kubernetes.io/part-of=srexpert)\" ]"
ok "helm uninstall removed the AgentConfig and its namespaced children"
stop_operator
delete_namespace "$ns"
wait_for 60 "no cluster RBAC of ours left" no_cluster_rbac_left
ok "after kubectl delete namespace nothing of ours is left cluster-wide"
