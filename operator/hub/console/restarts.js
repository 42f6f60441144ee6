// Container restarts per workload, from the pods the leader streams: one pass
// over the pods, so a namespace of many workloads costs no more than its pods.
//
// A pod counts for the workload that controls it, by owner reference: a
// StatefulSet, DaemonSet, ReplicaSet or Job directly; a Deployment through its
// ReplicaSet, whose name is the Deployment's plus "-" and the pod's
// `pod-template-hash` label (as the Deployment controller names them). Names
// alone are not enough: Deployment "web" must not count the pods of
// Deployment "web-api".
import { podRestarts } from './projection.js';

// Map `${namespace}/${kind}/${name}` -> restarts of the pods it controls.
export function restartsByWorkload(pods) {
  const totals = new Map();
  const add = (key, n) => totals.set(key, (totals.get(key) || 0) + n);
  for (const p of pods) {
    const meta = (p.object && p.object.metadata) || {};
    const owner = (meta.ownerReferences || []).find((o) => o.controller) || null;
    if (!owner || !owner.kind || !owner.name) continue;
    const n = podRestarts(p.object);
    const ns = p.namespace || meta.namespace || '';
    add(`${ns}/${owner.kind}/${owner.name}`, n);
    const hash = meta.labels && meta.labels['pod-template-hash'];
    if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
      add(`${ns}/Deployment/${owner.name.slice(0, -hash.length - 1)}`, n);
    }
  }
  return totals;
}

// The restarts of workload `kind` `namespace`/`name` in a restartsByWorkload map.
export function restartsOf(totals, namespace, kind, name) {
  return totals.get(`${namespace}/${kind}/${name}`) || 0;
}
