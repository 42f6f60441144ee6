#!/usr/bin/env bash
# `kubectl delete namespace srexpert-system` must remove everything and never
# hang, whatever order the namespace controller deletes things in: ten
# rounds of install.yaml + the operator, then the namespace deleted with the
# operator SIGTERMed as soon as the namespace is Terminating.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ns=srexpert-system
cleanup_hooks+=("k delete namespace $ns --wait=false")
rounds=${SRX_UNINSTALL_ROUNDS:-10}
times=()
for round in $(seq "$rounds"); do
  install_with_operator "$ns" "operator-$round"
  uninstall_namespace "$ns"
  times+=("$uninstall_secs")
done
ok "$rounds installs, $rounds uninstalls with the operator stopped first: seconds per uninstall ${times[*]}"
