#!/usr/bin/env bash
# The real-cluster suite's control plane: etcd + kube-apiserver (+ the
# kube-controller-manager when the asset directory has one) on loopback,
# started once per ctest run as the fixture `real_cluster`.
#
#   control_plane.sh start DIR   # writes DIR/kubeconfig (admin, system:masters) and DIR/audit.log
#   control_plane.sh stop DIR
#
# The binaries come from $KUBEBUILDER_ASSETS, the envtest convention
# (controller-runtime's setup-envtest fills such a directory; the project's
# CI points it at ../shared/kube/bin). Without it the suite is skipped (exit
# 77, ctest's SKIP_RETURN_CODE) and says how to get assets.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
run=$dir/run; logs=$dir/logs; pki=$dir/pki

stop() {
  for n in kube-controller-manager kube-apiserver etcd; do
    [ -s "$run/$n.pid" ] || continue
    pid=$(cat "$run/$n.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$run/$n.pid"
  done
}
if [ "$cmd" = stop ]; then stop; rm -rf "$dir/etcd" "$dir/kubeconfig"; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
stop  # a previous run's leftovers in the same DIR
rm -rf "$dir/etcd" "$dir/audit.log" "$dir/kubeconfig"

if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
  cat >&2 <<'MSG'
real-cluster suite SKIPPED: KUBEBUILDER_ASSETS is not set.
Point it at a directory with kube-apiserver, etcd and (for garbage collection
and namespace deletion) kube-controller-manager, e.g.
  KUBEBUILDER_ASSETS=$(realpath ../shared/kube/bin) ctest -L real
or fetch envtest assets with controller-runtime's setup-envtest:
  KUBEBUILDER_ASSETS=$(setup-envtest use -p path 1.26.x) ctest -L real
MSG
  exit 77
fi
assets=$KUBEBUILDER_ASSETS
apiserver=$assets/kube-apiserver; kcm=$assets/kube-controller-manager
etcd=$assets/etcd; [ -x "$etcd" ] || etcd=$(command -v etcd || true)
for b in "$apiserver" "$etcd"; do
  [ -n "$b" ] && [ -x "$b" ] || { echo "control-plane: missing ${b:-etcd} in KUBEBUILDER_ASSETS=$assets" >&2; exit 1; }
done
mkdir -p "$run" "$logs" "$pki" "$dir/etcd"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p_etcd=$(free_port); p_peer=$(free_port); p_api=$(free_port); p_kcm=$(free_port)

# PKI, once per DIR: a CA, the serving certificate, an admin client
# certificate (group system:masters) and the ServiceAccount signing key,
# so `kubectl create token` works and the suite can run as ServiceAccounts.
(
  cd "$pki"; umask 077
  [ -s admin.crt ] && exit 0
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=real-ca \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  leaf() {  # name subject extensions
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
    printf '%b' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
      -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  }
  leaf apiserver /CN=kube-apiserver "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n"
  leaf admin "/O=system:masters/CN=real-admin" "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
  openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
)
cat >"$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: real
  cluster:
    server: https://127.0.0.1:$p_api
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 "$pki/admin.crt")
    client-key-data: $(base64 -w0 "$pki/admin.key")
contexts:
- name: admin@real
  context: {cluster: real, user: admin}
current-context: admin@real
KC
chmod 600 "$dir/kubeconfig"
# Every request at Metadata level: the suite counts writes and 403s in it.
printf 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n' >"$dir/audit-policy.yaml"

trap stop ERR
"$etcd" --name real --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$p_etcd" --advertise-client-urls "http://127.0.0.1:$p_etcd" \
  --listen-peer-urls "http://127.0.0.1:$p_peer" --initial-advertise-peer-urls "http://127.0.0.1:$p_peer" \
  --initial-cluster "real=http://127.0.0.1:$p_peer" --unsafe-no-fsync \
  </dev/null >"$logs/etcd.log" 2>&1 &
echo $! >"$run/etcd.pid"
"$apiserver" --secure-port="$p_api" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
  --etcd-servers="http://127.0.0.1:$p_etcd" --authorization-mode=Node,RBAC \
  --client-ca-file="$pki/ca.crt" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$pki/sa.pub" \
  --service-account-signing-key-file="$pki/sa.key" --service-cluster-ip-range=10.96.0.0/16 \
  --endpoint-reconciler-type=none --allow-privileged=true \
  --enable-admission-plugins=NamespaceLifecycle,ServiceAccount,ResourceQuota,PodSecurity,OwnerReferencesPermissionEnforcement \
  --audit-log-path="$dir/audit.log" --audit-policy-file="$dir/audit-policy.yaml" --audit-log-maxsize=200 \
  </dev/null >"$logs/kube-apiserver.log" 2>&1 &
echo $! >"$run/kube-apiserver.pid"
if [ -x "$kcm" ]; then
  "$kcm" --kubeconfig="$dir/kubeconfig" --authentication-kubeconfig="$dir/kubeconfig" \
    --authorization-kubeconfig="$dir/kubeconfig" --bind-address=127.0.0.1 --secure-port="$p_kcm" \
    --controllers='*' --leader-elect=false --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/ca.crt" --cluster-name=real --kube-api-qps=100 --kube-api-burst=200 \
    </dev/null >"$logs/kube-controller-manager.log" 2>&1 &
  echo $! >"$run/kube-controller-manager.pid"
else
  echo "control-plane: no kube-controller-manager in $assets: no garbage collection or namespace deletion" >&2
fi

for _ in $(seq 300); do
  if curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
      "https://127.0.0.1:$p_api/readyz" 2>/dev/null | grep -qx ok; then
    echo "control-plane: ready at https://127.0.0.1:$p_api (kubeconfig $dir/kubeconfig)"
    exit 0
  fi
  for f in "$run"/*.pid; do
    kill -0 "$(cat "$f")" 2>/dev/null && continue
    n=$(basename "$f" .pid); echo "control-plane: $n exited; last lines of $logs/$n.log:" >&2
    tail -n 20 "$logs/$n.log" >&2; stop; exit 1
  done
  sleep 0.1
done
echo "control-plane: /readyz not ok after 30 s (logs in $logs)" >&2; stop; exit 1
