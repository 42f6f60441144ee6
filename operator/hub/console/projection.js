// Readers of the objects the hub serves. They are the agent's projections
// (docs/streaming.md, "What is streamed"), not the API server's objects:
// `status.conditions` is an object keyed by condition type and
// `status.containerStatuses` an object keyed by container name, where the API
// has lists.

const statusOf = (object) => (object && object.status) || {};

// [{type, status, reason}] of `object`'s conditions.
export function conditionsOf(object) {
  return Object.entries(statusOf(object).conditions || {}).map(([type, c]) => ({ type, ...c }));
}

// The condition `type` of `object`, or null.
export function conditionOf(object, type) {
  const c = (statusOf(object).conditions || {})[type];
  return c ? { type, ...c } : null;
}

// The restarts of all of a pod's containers (init containers included).
export function podRestarts(object) {
  const s = statusOf(object);
  let n = 0;
  for (const list of [s.initContainerStatuses, s.containerStatuses]) {
    for (const c of Object.values(list || {})) n += c.restartCount || 0;
  }
  return n;
}
