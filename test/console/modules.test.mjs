// The console's pure modules (operator/hub/console/): restarts.js and
// projection.js read the objects as the hub serves them (the agent's
// projection: conditions keyed by type, containerStatuses by container name),
// units.js the usage the hub's /metrics sends. Run by ctest
// (console_modules_test) with Node's own test runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restartsByWorkload, restartsOf } from '../../operator/hub/console/restarts.js';
import { conditionOf, conditionsOf, podRestarts } from '../../operator/hub/console/projection.js';
import { formatCpuMilli, formatMemoryBytes } from '../../operator/hub/console/units.js';

// A pod as the hub serves it, one container per entry of `restarts`.
const pod = (ns, owner, restarts, labels = {}) => ({
  namespace: ns,
  object: {
    metadata: { namespace: ns, labels, ownerReferences: owner ? [{ ...owner, controller: true }] : [] },
    status: {
      containerStatuses: Object.fromEntries(restarts.map((n, i) => [`c${i}`, { ready: true, restartCount: n }])),
    },
  },
});

test('a Deployment counts the pods of its ReplicaSets, found by pod-template-hash', () => {
  const totals = restartsByWorkload([
    pod('shop', { kind: 'ReplicaSet', name: 'web-5d8f7c9b4' }, [1, 2], { 'pod-template-hash': '5d8f7c9b4' }),
    pod('shop', { kind: 'ReplicaSet', name: 'web-6b7c8d9f1' }, [3], { 'pod-template-hash': '6b7c8d9f1' }),
  ]);
  assert.equal(restartsOf(totals, 'shop', 'Deployment', 'web'), 6);
  assert.equal(restartsOf(totals, 'shop', 'ReplicaSet', 'web-5d8f7c9b4'), 3);
});

test('a Deployment whose name prefixes another does not count the other one\'s pods', () => {
  const totals = restartsByWorkload([
    pod('shop', { kind: 'ReplicaSet', name: 'web-api-7f9c6d5b8' }, [4], { 'pod-template-hash': '7f9c6d5b8' }),
    pod('shop', { kind: 'ReplicaSet', name: 'web-5d8f7c9b4' }, [1], { 'pod-template-hash': '5d8f7c9b4' }),
  ]);
  assert.equal(restartsOf(totals, 'shop', 'Deployment', 'web'), 1);
  assert.equal(restartsOf(totals, 'shop', 'Deployment', 'web-api'), 4);
});

test('StatefulSets and DaemonSets count the pods they own, by kind, name and namespace', () => {
  const totals = restartsByWorkload([
    pod('shop', { kind: 'StatefulSet', name: 'db' }, [2]),
    pod('shop', { kind: 'StatefulSet', name: 'db' }, [5]),
    pod('shop', { kind: 'DaemonSet', name: 'db' }, [7]),
    pod('payments', { kind: 'StatefulSet', name: 'db' }, [11]),
  ]);
  assert.equal(restartsOf(totals, 'shop', 'StatefulSet', 'db'), 7);
  assert.equal(restartsOf(totals, 'shop', 'DaemonSet', 'db'), 7);
  assert.equal(restartsOf(totals, 'payments', 'StatefulSet', 'db'), 11);
});

test('pods without a controller, or a ReplicaSet name without the hash, count for no Deployment', () => {
  const totals = restartsByWorkload([
    pod('shop', null, [9]),
    pod('shop', { kind: 'ReplicaSet', name: 'web' }, [3]),
    pod('shop', { kind: 'ReplicaSet', name: 'web-abc' }, [3], { 'pod-template-hash': 'xyz' }),
  ]);
  assert.equal(restartsOf(totals, 'shop', 'Deployment', 'web'), 0);
  assert.equal(restartsOf(totals, 'shop', 'ReplicaSet', 'web'), 3);
});

test('pods without status or metadata count nothing and break nothing', () => {
  const totals = restartsByWorkload([{ namespace: 'shop', object: {} }, { object: { metadata: {} } }]);
  assert.equal(totals.size, 0);
});

test('a pod\'s restarts add up its containers and init containers, keyed by name', () => {
  assert.equal(podRestarts({
    status: {
      initContainerStatuses: { setup: { restartCount: 1 } },
      containerStatuses: { web: { restartCount: 2 }, sidecar: { restartCount: 4 } },
    },
  }), 7);
  assert.equal(podRestarts({ status: {} }), 0);
  assert.equal(podRestarts(undefined), 0);
});

test('conditions are read by type from the projection\'s object keyed by type', () => {
  const node = { status: { conditions: { Ready: { status: 'True', reason: 'KubeletReady' }, DiskPressure: { status: 'True' } } } };
  assert.deepEqual(conditionOf(node, 'Ready'), { type: 'Ready', status: 'True', reason: 'KubeletReady' });
  assert.equal(conditionOf(node, 'MemoryPressure'), null);
  assert.deepEqual(conditionsOf(node).map((c) => c.type), ['Ready', 'DiskPressure']);
  assert.deepEqual(conditionsOf({}), []);
});

test('usage reads the hub\'s cpuMilli and memoryBytes as kubectl top prints them', () => {
  assert.equal(formatCpuMilli(650), '650m');
  assert.equal(formatMemoryBytes(3221225472), '3072Mi');
  assert.equal(formatCpuMilli(undefined), '');
  assert.equal(formatMemoryBytes(undefined), '');
});
