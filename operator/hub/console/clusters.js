// #/clusters: every cluster the user may see, live (polled).
import * as api from './api.js';
import { h, replace, table, badge, ago } from './dom.js';
import { onLeave } from './state.js';

const POLL_MS = 3000;

export function connectionBadge(c) {
  return c.connected ? badge('Connected', 'ok') : badge('Disconnected', 'bad');
}

export function renderClusters(main) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('section', {}, h('h1', {}, 'Clusters'), body));
  let timer = null;
  const load = async () => {
    try {
      const { clusters } = await api.get('/api/v1/clusters');
      replace(body, table([
        { title: 'Cluster', cell: (c) => h('a', { href: `#/clusters/${encodeURIComponent(c.name)}`, class: 'cluster-link' }, c.name) },
        { title: 'State', cell: connectionBadge },
        { title: 'Agent', cell: (c) => c.agentVersion },
        { title: 'Kubernetes', cell: (c) => c.kubernetesVersion },
        { title: 'Leader pod', cell: (c) => c.pod },
        { title: 'Node', cell: (c) => c.node },
        { title: 'Connected since', cell: (c) => (c.connected ? ago(c.connectedSince) : (c.lastSeen ? `last seen ${ago(c.lastSeen)}` : 'never')) },
        { title: 'Last ack', class: 'num', cell: (c) => String(c.lastAck) },
      ], clusters, 'No cluster has connected yet (or none is yours).'));
    } catch (err) {
      replace(body, h('p', { class: 'error' }, err.message));
    }
    timer = setTimeout(load, POLL_MS);
  };
  load();
  onLeave(() => clearTimeout(timer));
}
