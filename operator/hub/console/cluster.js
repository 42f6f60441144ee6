// #/clusters/<name>/<tab>: one cluster as its leader agent streams it —
// workloads, pods, nodes, events — its security report, the actions an
// operator may request, and the audit trail. Polled while shown.
import * as api from './api.js';
import { h, replace, table, badge, ago } from './dom.js';
import { onLeave, isOperator } from './state.js';
import { connectionBadge } from './clusters.js';
import { renderSecurity } from './security.js';
import { restartsByWorkload, restartsOf } from './restarts.js';
import { conditionOf, conditionsOf, podRestarts } from './projection.js';
import { formatCpuMilli, formatMemoryBytes } from './units.js';
import {
  SWITCH_OF, confirmAction, runAction, manifestForm, helmForm,
} from './actions.js';

const POLL_MS = 3000;
const TABS = [['workloads', 'Workloads'], ['nodes', 'Nodes'], ['events', 'Events'],
  ['security', 'Security'], ['actions', 'Actions'], ['audit', 'Audit']];

export function renderCluster(main, cluster, tab) {
  const state = { cluster, tab, filter: '', info: null, connected: false, infoAsked: false };
  const title = h('h1', {}, cluster, ' ');
  const facts = h('p', { class: 'muted' });
  const panel = h('div', { id: 'action-result', hidden: true });
  const search = h('input', {
    id: 'search', type: 'search', placeholder: 'Search names', 'aria-label': 'Search names',
    oninput: () => { state.filter = search.value.toLowerCase(); draw(); },
  });
  const content = h('div', { id: 'content' }, h('p', { class: 'muted' }, 'Loading…'));
  const nav = h('nav', { class: 'tabs', 'aria-label': 'Cluster sections' }, TABS.map(([id, label]) => h('a', {
    href: `#/clusters/${encodeURIComponent(cluster)}/${id}`,
    class: id === tab ? 'active' : '', 'aria-current': id === tab ? 'page' : undefined, id: `tab-${id}`,
  }, label)));
  replace(main, h('section', {}, h('p', {}, h('a', { href: '#/clusters' }, '← Clusters')), title, facts, nav,
    h('div', { class: 'toolbar' }, search), panel, content));

  let data = {};
  let timer = null;
  let stopped = false;
  const draw = () => {
    if (tab === 'workloads') drawWorkloads(content, state, data, panel);
    else if (tab === 'nodes') drawNodes(content, state, data, panel);
    else if (tab === 'events') drawEvents(content, state, data);
    else if (tab === 'audit') drawAudit(content, state, data);
  };
  const load = async () => {
    try {
      const { clusters } = await api.get('/api/v1/clusters');
      const c = clusters.find((x) => x.name === cluster);
      if (!c) throw new api.ApiError(404, `no cluster "${cluster}" for this user`);
      state.connected = c.connected;
      replace(title, cluster, ' ', connectionBadge(c));
      replace(facts, c.connected
        ? `Leader ${c.pod} on ${c.node} · agent ${c.agentVersion} · Kubernetes ${c.kubernetesVersion} · connected ${ago(c.connectedSince)}`
        : `The agent is disconnected${c.lastSeen ? ` (last seen ${ago(c.lastSeen)})` : ''}: the state below is what it last sent; actions cannot be sent.`);
      // What the agent will do when asked (agent.info): asked once, by
      // operators only (it is a request).
      if (isOperator() && c.connected && !state.infoAsked) {
        state.infoAsked = true;
        api.request(cluster, 'agent.info', {}, { timeoutMs: 10000 }).then((record) => {
          const out = api.outcome(record);
          if (out.ok) { state.info = out.payload; draw(); }
        }).catch(() => {});
      }
      data = await loadTab(cluster, tab);
      draw();
    } catch (err) {
      replace(content, h('p', { class: 'error' }, err.message));
    }
    if (!stopped && tab !== 'security' && tab !== 'actions') timer = setTimeout(load, POLL_MS);
  };
  if (tab === 'security') {
    // After the first load: whether the agent is connected decides "Scan now".
    load().then(() => renderSecurity(content, cluster, panel, () => enabled(state, 'scan.run')));
  } else if (tab === 'actions') {
    load().then(() => {
      replace(content,
        isOperator() ? [manifestForm(cluster, panel, enabled(state, 'manifests.apply')),
          helmForm(cluster, panel, enabled(state, 'helm.upgrade'))]
          : h('p', { class: 'empty' }, 'Actions need the operator role; you are a viewer.'));
    });
  } else {
    load();
  }
  onLeave(() => { stopped = true; clearTimeout(timer); });
}

async function loadTab(cluster, tab) {
  const res = (kind) => api.get(api.clusterPath(cluster, `resources?kind=${kind}`)).then((r) => r.items);
  if (tab === 'workloads') {
    const [deployments, statefulsets, daemonsets, pods] = await Promise.all(
      ['Deployment', 'StatefulSet', 'DaemonSet', 'Pod'].map(res));
    return { workloads: [...deployments, ...statefulsets, ...daemonsets], pods };
  }
  if (tab === 'nodes') {
    const [nodes, metrics] = await Promise.all([res('Node'), api.get(api.clusterPath(cluster, 'metrics'))]);
    return { nodes, metrics };
  }
  if (tab === 'events') return { events: (await api.get(api.clusterPath(cluster, 'events?limit=500'))).items };
  if (tab === 'audit') return { audit: (await api.get(api.clusterPath(cluster, 'audit?limit=200'))).items };
  return {};
}

// Whether the action may be offered: operator, agent connected, switch on.
function enabled(state, kind) {
  if (!isOperator()) return { ok: false, why: 'needs the operator role' };
  if (!state.connected) return { ok: false, why: 'the agent is disconnected' };
  const sw = SWITCH_OF[kind];
  if (sw && state.info && state.info.actions && state.info.actions[sw] === false) {
    return { ok: false, why: `disabled in the AgentConfig (spec.actions.${sw})` };
  }
  if (kind === 'scan.run' && state.info && state.info.scans && state.info.scans.enabled === false) {
    return { ok: false, why: 'scans are disabled in the AgentConfig (spec.scans.enabled)' };
  }
  return { ok: true };
}

function actionButton(state, kind, label, onclick, danger = false) {
  if (!isOperator()) return null;  // viewers see no action buttons at all
  const e = enabled(state, kind);
  return h('button', {
    type: 'button', class: danger ? 'danger small' : 'small', disabled: !e.ok, title: e.why,
    'data-action': kind, onclick,
  }, label);
}

const matches = (state, ...names) => !state.filter || names.some((n) => (n || '').toLowerCase().includes(state.filter));

function drawWorkloads(content, state, data, panel) {
  const { cluster } = state;
  const restarts = restartsByWorkload(data.pods || []);
  const byNs = new Map();
  for (const w of data.workloads || []) {
    if (!matches(state, w.name, w.namespace)) continue;
    if (!byNs.has(w.namespace)) byNs.set(w.namespace, []);
    byNs.get(w.namespace).push(w);
  }
  const sections = [...byNs.keys()].sort().map((ns) => h('section', { class: 'namespace', 'data-namespace': ns },
    h('h2', {}, `Namespace ${ns}`),
    table([
      { title: 'Name', cell: (w) => w.name },
      { title: 'Kind', cell: (w) => w.kind },
      { title: 'Ready', class: 'num', cell: (w) => readiness(w) },
      { title: 'Replicas', class: 'num replicas', cell: (w) => (w.kind === 'DaemonSet' ? '' : String(w.object.spec.replicas ?? 1)) },
      { title: 'Restarts', class: 'num', cell: (w) => String(restartsOf(restarts, ns, w.kind, w.name)) },
      {
        title: '', class: 'actions', cell: (w) => [
          w.kind !== 'DaemonSet' ? actionButton(state, 'workload.scale', 'Scale…', async () => {
            const v = await confirmAction({
              title: `Scale ${w.kind} ${w.name}?`,
              facts: [['Cluster', cluster], ['Namespace', ns], ['Object', `${w.kind} ${w.name}`],
                ['Replicas now', String(w.object.spec.replicas ?? 1)]],
              fields: [{ id: 'replicas', label: 'New replica count', type: 'number', min: 0, value: w.object.spec.replicas ?? 1 }],
              confirmText: 'Scale',
            });
            if (!v) return;
            await runAction(panel, cluster, 'workload.scale', {
              kind: w.kind, namespace: ns, name: w.name, replicas: Number(v.replicas),
              expectedReplicas: w.object.spec.replicas ?? 1,
            }, { label: `scale ${w.kind} ${ns}/${w.name} to ${v.replicas}` });
          }) : null,
          actionButton(state, 'workload.restart', 'Restart…', async () => {
            const v = await confirmAction({
              title: `Restart ${w.kind} ${w.name}?`,
              facts: [['Cluster', cluster], ['Namespace', ns], ['Object', `${w.kind} ${w.name}`],
                ['What happens', 'a rolling restart (kubectl rollout restart)']],
              confirmText: 'Restart',
            });
            if (v) await runAction(panel, cluster, 'workload.restart', { kind: w.kind, namespace: ns, name: w.name }, { label: `restart ${ns}/${w.name}` });
          }),
        ],
      },
    ], byNs.get(ns))));
  const pods = (data.pods || []).filter((p) => matches(state, p.name, p.namespace));
  replace(content, sections.length ? sections : h('p', { class: 'empty' }, 'No workloads match.'),
    h('section', {}, h('h2', {}, 'Pods'), table([
      { title: 'Namespace', cell: (p) => p.namespace },
      { title: 'Name', cell: (p) => p.name },
      { title: 'Node', cell: (p) => (p.object.spec && p.object.spec.nodeName) || '' },
      { title: 'Phase', cell: (p) => (p.object.status && p.object.status.phase) || '' },
      { title: 'Restarts', class: 'num', cell: (p) => String(podRestarts(p.object)) },
      {
        title: '', class: 'actions', cell: (p) => actionButton(state, 'pod.delete', 'Delete…', async () => {
          const v = await confirmAction({
            title: `Delete pod ${p.name}?`,
            facts: [['Cluster', cluster], ['Namespace', p.namespace], ['Object', `Pod ${p.name}`],
              ['What happens', 'its controller, if any, starts a replacement']],
            confirmText: 'Delete', danger: true,
          });
          if (v) await runAction(panel, cluster, 'pod.delete', { namespace: p.namespace, name: p.name }, { label: `delete pod ${p.namespace}/${p.name}` });
        }, true),
      },
    ], pods, 'No pods streamed.')));
}

function readiness(w) {
  const s = w.object.status || {};
  if (w.kind === 'DaemonSet') return `${s.numberReady || 0}/${s.desiredNumberScheduled || 0}`;
  return `${s.readyReplicas || 0}/${w.object.spec.replicas ?? 1}`;
}

function drawNodes(content, state, data, panel) {
  const { cluster } = state;
  const usage = new Map();
  if (data.metrics && data.metrics.nodes) for (const n of data.metrics.nodes) usage.set(n.name, n);
  const nodes = (data.nodes || []).filter((n) => matches(state, n.name));
  const node = (verb, kind, n, extra) => actionButton(state, kind, `${verb}…`, async () => {
    const v = await confirmAction({
      title: `${verb} node ${n.name}?`,
      facts: [['Cluster', cluster], ['Object', `Node ${n.name}`], ...(extra || [])],
      confirmText: verb, danger: kind === 'node.drain',
    });
    if (v) {
      await runAction(panel, cluster, kind, { name: n.name }, {
        label: `${verb.toLowerCase()} ${n.name}`, timeoutMs: kind === 'node.drain' ? 300000 : 30000,
      });
    }
  }, kind === 'node.drain');
  replace(content,
    data.metrics && data.metrics.available === false
      ? h('p', { class: 'muted' }, `Usage: ${data.metrics.reason || 'no metrics'}`) : null,
    table([
      { title: 'Node', cell: (n) => n.name },
      { title: 'Ready', cell: (n) => conditionBadge(n, 'Ready') },
      { title: 'Conditions', cell: (n) => conditionsOf(n.object).filter((c) => c.type !== 'Ready' && c.status === 'True').map((c) => badge(c.type, 'warn')) },
      { title: 'Schedulable', cell: (n) => (n.object.spec && n.object.spec.unschedulable ? badge('cordoned', 'warn') : 'yes') },
      { title: 'CPU', class: 'num', cell: (n) => (usage.get(n.name) ? formatCpuMilli(usage.get(n.name).cpuMilli) : '') },
      { title: 'Memory', class: 'num', cell: (n) => (usage.get(n.name) ? formatMemoryBytes(usage.get(n.name).memoryBytes) : '') },
      {
        title: '', class: 'actions', cell: (n) => [
          n.object.spec && n.object.spec.unschedulable ? node('Uncordon', 'node.uncordon', n) : node('Cordon', 'node.cordon', n),
          node('Drain', 'node.drain', n, [['What happens', 'cordon, then evict every pod (PodDisruptionBudgets honoured; DaemonSet pods stay)']]),
        ],
      },
    ], nodes, 'No nodes match.'));
}

function conditionBadge(n, type) {
  const c = conditionOf(n.object, type);
  if (!c) return badge('unknown', '');
  return c.status === 'True' ? badge('Ready', 'ok') : badge(c.reason || 'NotReady', 'bad');
}

function drawEvents(content, state, data) {
  const events = (data.events || []).filter((e) => matches(state, e.regarding && e.regarding.name, e.namespace, e.reason));
  // Warnings first, each group newest first (the hub's order).
  events.sort((a, b) => (a.type === 'Warning' ? 0 : 1) - (b.type === 'Warning' ? 0 : 1));
  replace(content, table([
    { title: 'Type', cell: (e) => (e.type === 'Warning' ? badge('Warning', 'warn') : e.type) },
    { title: 'Reason', cell: (e) => e.reason },
    { title: 'Object', cell: (e) => (e.regarding ? `${e.regarding.kind} ${e.namespace ? `${e.namespace}/` : ''}${e.regarding.name}` : '') },
    { title: 'Message', cell: (e) => e.message },
    { title: 'Count', class: 'num', cell: (e) => String(e.count || 1) },
    { title: 'Last', cell: (e) => ago(e.lastTimestamp) },
  ], events, 'No events.'));
}

function drawAudit(content, state, data) {
  const rows = (data.audit || []).filter((a) => matches(state, a.user, a.kind, a.target && a.target.name));
  replace(content, table([
    { title: 'Time', cell: (a) => ago(a.time) },
    { title: 'User', cell: (a) => `${a.user} (${a.role})` },
    { title: 'Kind', cell: (a) => a.kind },
    { title: 'Target', cell: (a) => Object.entries(a.target || {}).map(([k, v]) => `${k}=${v}`).join(' ') },
    { title: 'Outcome', cell: (a) => (a.outcome === 'ok' ? badge('ok', 'ok') : badge(a.outcome, 'bad')) },
    { title: 'Message', cell: (a) => a.message },
  ], rows, 'No request made through the hub yet.'));
}
