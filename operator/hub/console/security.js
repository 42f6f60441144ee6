// #/clusters/<name>/security: the latest scan report (docs/scan.md) — the
// score overall, per category and per namespace, findings grouped by check
// with the objects and the remediation, Pod Security readiness per
// namespace, what is new since the previous scan — and "Scan now".
import * as api from './api.js';
import { h, replace, table, badge, ago } from './dom.js';
import { isOperator } from './state.js';
import { runAction } from './actions.js';

let catalogue = null;  // check id -> catalogue entry (GET /api/v1/checks)

async function checks() {
  if (!catalogue) {
    const { checks: list } = await api.get('/api/v1/checks');
    catalogue = new Map(list.map((c) => [c.id, c]));
  }
  return catalogue;
}

const key = (f) => `${f.check}|${f.kind}|${f.namespace}|${f.name}|${f.container || ''}`;

export async function renderSecurity(content, cluster, panel, enabled) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading the latest report…'));
  const e = enabled();
  const scanNow = isOperator() ? h('button', {
    type: 'button', class: 'primary', id: 'scan-now', disabled: !e.ok, title: e.why,
    onclick: async () => {
      scanNow.disabled = true;
      await runAction(panel, cluster, 'scan.run', {}, { label: 'scan', timeoutMs: 120000 });
      scanNow.disabled = false;
      load();
    },
  }, 'Scan now') : null;
  replace(content, h('div', { class: 'toolbar' }, scanNow), body);
  const load = async () => {
    let report;
    let diff = null;
    try {
      report = await api.get(api.clusterPath(cluster, 'scans/latest'));
    } catch (err) {
      return replace(body, h('p', { class: err.status === 404 ? 'empty' : 'error' },
        err.status === 404 ? 'No scan report yet: the leader sends one after its first full scan (or use Scan now).' : err.message));
    }
    try { diff = await api.get(api.clusterPath(cluster, 'scans/diff')); } catch { /* first report */ }
    const cat = await checks();
    const fresh = new Set(((diff && diff.new) || []).map(key));
    replace(body, summary(report, diff), categories(report), namespaces(report),
      readiness(report), findings(report, cat, fresh && diff && diff.previousScannedAt ? fresh : new Set()));
  };
  load();
}

function scoreClass(score) {
  if (score >= 80) return 'ok';
  if (score >= 50) return 'warn';
  return 'bad';
}

function summary(report, diff) {
  const c = report.counts || {};
  return h('section', { class: 'card summary' },
    h('div', { class: `score ${scoreClass(report.score)}`, id: 'score' }, String(report.score)),
    h('div', {},
      h('p', {}, `Scanned ${ago(report.scannedAt)} · ${report.objects} objects · ${c.passed || 0} passed, `,
        badge(`${c.dangers || 0} dangers`, 'bad'), ' ', badge(`${c.warnings || 0} warnings`, 'warn')),
      diff && diff.previousScannedAt
        ? h('p', {}, `Since the previous scan: ${(diff.new || []).length} new, ${(diff.resolved || []).length} resolved.`)
        : h('p', { class: 'muted' }, 'No previous scan to compare with.'),
      report.omitted ? h('p', { class: 'muted' }, `${report.omitted} more failed results did not fit the report (counted in the score).`) : null,
      (report.notEvaluated || []).length
        ? h('p', { class: 'muted' }, `Not evaluated in the cluster: ${report.notEvaluated.join(', ')}.`) : null));
}

function categories(report) {
  const rows = Object.entries(report.byCategory || {}).map(([name, v]) => ({ name, ...v }));
  return h('section', {}, h('h2', {}, 'By category'), table([
    { title: 'Category', cell: (r) => r.name },
    { title: 'Score', class: 'num', cell: (r) => badge(String(r.score), scoreClass(r.score)) },
    { title: 'Passed', class: 'num', cell: (r) => String(r.passed) },
    { title: 'Warnings', class: 'num', cell: (r) => String(r.warnings) },
    { title: 'Dangers', class: 'num', cell: (r) => String(r.dangers) },
  ], rows));
}

// Per namespace: the report's own scores when it has them (byNamespace),
// else the failed findings counted per namespace.
function namespaces(report) {
  if (report.byNamespace) {
    const rows = Object.entries(report.byNamespace).map(([name, v]) => ({ name, ...v }));
    return h('section', {}, h('h2', {}, 'By namespace'), table([
      { title: 'Namespace', cell: (r) => r.name || '(cluster-scoped)' },
      { title: 'Score', class: 'num', cell: (r) => badge(String(r.score), scoreClass(r.score)) },
      { title: 'Passed', class: 'num', cell: (r) => String(r.passed) },
      { title: 'Warnings', class: 'num', cell: (r) => String(r.warnings) },
      { title: 'Dangers', class: 'num', cell: (r) => String(r.dangers) },
    ], rows));
  }
  const counts = new Map();
  for (const f of report.findings || []) {
    const n = counts.get(f.namespace) || { name: f.namespace, dangers: 0, warnings: 0 };
    if (f.severity === 'danger') n.dangers++; else n.warnings++;
    counts.set(f.namespace, n);
  }
  return h('section', {}, h('h2', {}, 'Failed checks by namespace'), table([
    { title: 'Namespace', cell: (r) => r.name || '(cluster-scoped)' },
    { title: 'Dangers', class: 'num', cell: (r) => String(r.dangers) },
    { title: 'Warnings', class: 'num', cell: (r) => String(r.warnings) },
  ], [...counts.values()].sort((a, b) => a.name.localeCompare(b.name))));
}

// Pod Security admission readiness per namespace: what its label enforces,
// the strictest level every pod already meets, and what raising the label
// one level would reject (the API server previews that only on a dry-run
// relabel, one namespace at a time).
function readiness(report) {
  if (!report.namespaces) {
    return report.namespacesOmitted
      ? h('p', { class: 'muted' }, `${report.namespacesOmitted} namespaces: too many for the report's per-namespace detail.`)
      : null;
  }
  return h('section', { id: 'readiness' }, h('h2', {}, 'Pod Security readiness'), table([
    { title: 'Namespace', cell: (n) => n.name },
    { title: 'Enforced now', cell: (n) => `${n.enforce} (${n.enforceVersion})` },
    { title: 'Every pod meets', cell: (n) => badge(n.meets, n.meets === 'restricted' ? 'ok' : (n.meets === 'baseline' ? 'warn' : 'bad')) },
    { title: 'Pods', class: 'num', cell: (n) => String(n.pods) },
    {
      title: 'Raising to the next level',
      cell: (n) => (!n.next ? 'already the strictest'
        : n.rejectedAtNext === 0 ? `${n.next}: nothing rejected`
          : [`${n.next} would reject ${n.rejectedAtNext}: `,
            (n.rejected || []).map((r) => r.object).join(', '),
            n.rejectedAtNext > (n.rejected || []).length ? ', …' : '']),
    },
  ], report.namespaces));
}

function findings(report, cat, fresh) {
  const groups = new Map();
  for (const f of report.findings || []) {
    if (!groups.has(f.check)) groups.set(f.check, []);
    groups.get(f.check).push(f);
  }
  const blocks = [...groups.entries()].map(([id, list]) => {
    const info = cat.get(id) || { title: id, remediation: '', why: '' };
    const newCount = list.filter((f) => fresh.has(key(f))).length;
    return h('details', { class: `finding ${list[0].severity}`, 'data-check': id },
      h('summary', {},
        badge(list[0].severity, list[0].severity === 'danger' ? 'bad' : 'warn'), ' ',
        h('strong', {}, info.title), ` (${id}) — ${list.length} object${list.length === 1 ? '' : 's'}`,
        newCount ? [' ', badge(`${newCount} new`, 'new')] : null),
      info.why ? h('p', {}, info.why) : null,
      info.remediation ? h('p', { class: 'remediation' }, h('strong', {}, 'Fix: '), info.remediation) : null,
      h('ul', {}, list.map((f) => h('li', { class: fresh.has(key(f)) ? 'new' : '' },
        `${f.kind} ${f.namespace ? `${f.namespace}/` : ''}${f.name}${f.container ? ` (container ${f.container})` : ''}: ${f.message}`))));
  });
  return h('section', {}, h('h2', {}, 'Findings by check'),
    blocks.length ? blocks : h('p', { class: 'empty' }, 'No failed check.'));
}
