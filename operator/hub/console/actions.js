// Actions (docs/actions.md): each one behind a confirmation that names the
// cluster, namespace and object, sent as an asynchronous request so that its
// progress shows, and its outcome — including the agent's refusals — shown
// in the cluster page's result panel. Operators only: the buttons are not
// drawn for viewers, and the API refuses them anyway.
import * as api from './api.js';
import { h, replace, append, clear } from './dom.js';

// The switch of spec.actions each kind needs (agent.info reports them).
export const SWITCH_OF = {
  'workload.scale': 'scale', 'workload.restart': 'restart', 'pod.delete': 'deletePods',
  'node.cordon': 'nodes', 'node.uncordon': 'nodes', 'node.drain': 'nodes',
  'manifests.apply': 'applyManifests', 'helm.install': 'helm', 'helm.upgrade': 'helm',
  'helm.rollback': 'helm', 'helm.uninstall': 'helm', 'helm.list': 'helm',
};

// Asks for confirmation in the page's <dialog>. `fields`: [{id, label,
// type, value, min}]. Resolves with the fields' values, or null if cancelled.
export function confirmAction({ title, facts, fields = [], confirmText = 'Confirm', danger = false }) {
  const dialog = document.getElementById('confirm');
  const inputs = {};
  return new Promise((resolve) => {
    const done = (value) => {
      dialog.close();
      resolve(value);
    };
    const form = h('form', {
      method: 'dialog',
      onsubmit: (e) => {
        e.preventDefault();
        const values = {};
        for (const [id, input] of Object.entries(inputs)) values[id] = input.value;
        done(values);
      },
    },
    h('h2', { id: 'confirm-title' }, title),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    fields.map((f) => {
      inputs[f.id] = h('input', { id: `field-${f.id}`, type: f.type || 'text', value: f.value ?? '', min: f.min, required: true });
      return h('p', {}, h('label', { for: `field-${f.id}` }, f.label), inputs[f.id]);
    }),
    h('div', { class: 'buttons' },
      h('button', { type: 'button', onclick: () => done(null) }, 'Cancel'),
      h('button', { type: 'submit', class: danger ? 'danger' : 'primary', id: 'confirm-ok' }, confirmText)));
    replace(dialog, form);
    dialog.addEventListener('cancel', () => resolve(null), { once: true });
    dialog.showModal();
    const first = Object.values(inputs)[0];
    (first || form.querySelector('#confirm-ok')).focus();
  });
}

// Sends `kind` and shows its progress and outcome in `panel`. Resolves
// with the outcome (api.outcome).
export async function runAction(panel, cluster, kind, payload, { label, timeoutMs = 30000 } = {}) {
  const progress = h('ul', { class: 'progress' });
  const status = h('p', { class: 'status running' }, `${label || kind}: sent…`);
  replace(panel, h('div', { class: 'card result' }, status, progress));
  panel.hidden = false;
  try {
    const record = await api.request(cluster, kind, payload, {
      timeoutMs,
      onProgress: (reports) => {
        replace(progress, reports.map((r) => h('li', {}, describeProgress(r))));
      },
    });
    const out = api.outcome(record);
    status.className = `status ${out.ok ? 'ok' : 'bad'}`;
    replace(status, `${label || kind}: ${out.title}`);
    if (out.detail) append(panel.firstChild, h('p', { class: 'detail' }, out.detail));
    if (out.ok && out.payload && out.payload.result) {
      append(panel.firstChild, h('details', {}, h('summary', {}, 'Result'),
        h('pre', {}, JSON.stringify(out.payload.result, null, 2))));
    }
    return out;
  } catch (err) {
    status.className = 'status bad';
    replace(status, `${label || kind}: ${err.message}`);
    return { ok: false, title: err.message };
  }
}

function describeProgress(r) {
  if (r.pod) {
    return `${r.outcome}: ${r.pod.namespace}/${r.pod.name}${r.reason ? ` (${r.reason})` : ''}` +
      ` — ${r.evicted} evicted, ${r.remaining} to go`;
  }
  if (r.node !== undefined) {
    return `node ${r.node}: ${r.remaining} pods to evict, ${r.skipped} skipped`;
  }
  return JSON.stringify(r);
}

// The "Apply a manifest" form: paste YAML, see the server-side dry run's
// per-object diff, then confirm the real apply.
export function manifestForm(cluster, panel, enabled) {
  const text = h('textarea', { id: 'manifest', rows: 12, spellcheck: 'false', placeholder: 'apiVersion: v1\nkind: ConfigMap\n…' });
  const preview = h('div', { class: 'preview' });
  const apply = h('button', { type: 'button', class: 'primary', disabled: true, id: 'apply-confirm' }, 'Apply for real…');
  const dry = h('button', { type: 'button', id: 'apply-dry-run', disabled: !enabled.ok, title: enabled.why }, 'Dry run (diff)');
  dry.addEventListener('click', async () => {
    apply.disabled = true;
    const out = await runAction(panel, cluster, 'manifests.apply', { manifests: text.value, dryRun: true },
      { label: 'manifests.apply (dry run)' });
    if (!out.ok) return replace(preview);
    const result = out.payload.result;
    replace(preview, h('h3', {}, 'What the apply would do'), diffTable(result));
    apply.disabled = false;
  });
  apply.addEventListener('click', async () => {
    const objects = (text.value.match(/^kind:/gm) || []).length;
    const ok = await confirmAction({
      title: 'Apply these manifests?',
      facts: [['Cluster', cluster], ['Objects', String(objects || 1)], ['Field manager', 'srexpert-agent (server-side apply)']],
      confirmText: 'Apply',
    });
    if (!ok) return;
    await runAction(panel, cluster, 'manifests.apply', { manifests: text.value }, { label: 'manifests.apply' });
    apply.disabled = true;
  });
  return h('section', { class: 'card' },
    h('h2', {}, 'Apply a manifest'),
    h('label', { for: 'manifest' }, 'YAML or JSON, several documents allowed'),
    text, h('div', { class: 'buttons' }, dry, apply), preview);
}

function diffTable(result) {
  return h('div', {}, (result.objects || []).map((o) => h('div', { class: 'diff' },
    h('p', {}, h('strong', {}, `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`), ` — ${o.action}`),
    (o.diff && o.diff.length)
      ? h('table', {}, h('tbody', {}, o.diff.map((d) => h('tr', {},
        h('td', { class: 'path' }, d.path),
        h('td', { class: 'old' }, d.old === undefined ? '' : JSON.stringify(d.old)),
        h('td', { class: 'new' }, d.new === undefined ? '' : JSON.stringify(d.new))))))
      : null)));
}

// Helm: install or upgrade from an uploaded chart archive or a repository
// reference, with values; the releases of a namespace with rollback and
// uninstall.
export function helmForm(cluster, panel, enabled) {
  const ns = h('input', { id: 'helm-ns', placeholder: 'namespace', required: true });
  const release = h('input', { id: 'helm-release', placeholder: 'release', required: true });
  const archive = h('input', { id: 'helm-archive', type: 'file', accept: '.tgz,.tar.gz' });
  const repo = h('input', { id: 'helm-repo', placeholder: 'https://charts.example.com (or leave empty and upload)' });
  const chart = h('input', { id: 'helm-chart', placeholder: 'chart name' });
  const version = h('input', { id: 'helm-version', placeholder: 'version (optional)' });
  const values = h('textarea', { id: 'helm-values', rows: 5, spellcheck: 'false', placeholder: '{"replicaCount": 2}' });
  const releases = h('div', {});
  const error = h('p', { class: 'error', role: 'alert' });

  const chartRef = async () => {
    if (archive.files && archive.files[0]) {
      const bytes = new Uint8Array(await archive.files[0].arrayBuffer());
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return { archive: btoa(binary) };
    }
    if (!repo.value || !chart.value) throw new Error('upload a chart archive, or give a repository URL and a chart name');
    const ref = { repoURL: repo.value, name: chart.value };
    if (version.value) ref.version = version.value;
    return ref;
  };
  const install = h('button', { type: 'button', class: 'primary', disabled: !enabled.ok, title: enabled.why }, 'Install or upgrade…');
  install.addEventListener('click', async () => {
    replace(error);
    let payload;
    try {
      payload = { namespace: ns.value, release: release.value, chart: await chartRef() };
      if (values.value.trim()) payload.values = JSON.parse(values.value);
    } catch (err) {
      return replace(error, err.message);
    }
    const ok = await confirmAction({
      title: 'Install or upgrade this release?',
      facts: [['Cluster', cluster], ['Namespace', ns.value], ['Release', release.value],
        ['Chart', payload.chart.archive ? archive.files[0].name : `${chart.value} from ${repo.value}`]],
      confirmText: 'Install or upgrade',
    });
    if (!ok) return;
    await runAction(panel, cluster, 'helm.upgrade', payload, { label: `helm upgrade --install ${release.value}`, timeoutMs: 300000 });
    listReleases();
  });
  const listReleases = async () => {
    if (!ns.value) return;
    const out = await runAction(panel, cluster, 'helm.list', { namespace: ns.value }, { label: `helm list -n ${ns.value}` });
    if (!out.ok) return replace(releases);
    const rows = out.payload.result.releases || [];
    replace(releases, rows.length ? h('table', {}, h('tbody', {}, rows.map((r) => h('tr', {},
      h('td', {}, r.name), h('td', {}, `revision ${r.revision}`), h('td', {}, r.status), h('td', {}, r.chart),
      h('td', {},
        h('button', { type: 'button', onclick: () => helmSimple('helm.rollback', r, 'Roll back') }, 'Roll back…'),
        h('button', { type: 'button', class: 'danger', onclick: () => helmSimple('helm.uninstall', r, 'Uninstall') }, 'Uninstall…')))))) :
      h('p', { class: 'empty' }, `No release in ${ns.value}.`));
  };
  const helmSimple = async (kind, r, verb) => {
    const ok = await confirmAction({
      title: `${verb} release ${r.name}?`, facts: [['Cluster', cluster], ['Namespace', r.namespace], ['Release', r.name]],
      confirmText: verb, danger: kind === 'helm.uninstall',
    });
    if (!ok) return;
    await runAction(panel, cluster, kind, { namespace: r.namespace, release: r.name }, { label: `${kind} ${r.name}`, timeoutMs: 300000 });
    listReleases();
  };
  const list = h('button', { type: 'button', disabled: !enabled.ok, title: enabled.why, onclick: listReleases }, 'List releases');
  return h('section', { class: 'card' },
    h('h2', {}, 'Helm'),
    h('div', { class: 'grid' },
      h('label', { for: 'helm-ns' }, 'Namespace'), ns,
      h('label', { for: 'helm-release' }, 'Release'), release,
      h('label', { for: 'helm-archive' }, 'Chart archive'), archive,
      h('label', { for: 'helm-repo' }, 'or repository'), repo,
      h('label', { for: 'helm-chart' }, 'Chart'), chart,
      h('label', { for: 'helm-version' }, 'Version'), version,
      h('label', { for: 'helm-values' }, 'Values (JSON)'), values),
    h('div', { class: 'buttons' }, install, list), error, releases);
}

export function hideResult(panel) {
  clear(panel);
  panel.hidden = true;
}
