// The web console in headless Chromium against a running demo (hub,
// operator, agents on the simulated cluster): what a person does, step by
// step, with a screenshot of each main page. Exits non-zero on the first
// failed step, and on any console error or CSP violation in the page.
//
//   node console.test.mjs <console.env of the demo> <screenshot dir>
import { readFileSync, readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [envFile, shots] = process.argv.slice(2);
const env = Object.fromEntries(readFileSync(envFile, 'utf8').trim().split('\n').map((l) => {
  const i = l.indexOf('=');
  return [l.slice(0, i), l.slice(i + 1)];
}));
mkdirSync(shots, { recursive: true });

const problems = [];
let step = '';
// Refusals a step provokes on purpose; Chromium logs every failed load.
let expectedStatus = null;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // Root in CI containers: Chromium's sandbox needs user namespaces it may not get.
  args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
page.setDefaultTimeout(20000);
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  if (expectedStatus && m.text().includes(`status of ${expectedStatus} `)) return;
  problems.push(`console error during "${step}": ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`page error during "${step}": ${e.message}`));

async function check(name, fn, refusal = null) {
  step = name;
  expectedStatus = refusal;
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok: ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    console.log(`FAIL: ${name}: ${e.message}`);
    await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    await browser.close();
    process.exit(1);
  }
}
const shot = (name) => page.screenshot({ path: join(shots, `console-${name}.png`), fullPage: true });
const expectText = async (locator, re, timeout) => {
  await locator.filter({ hasText: re }).first().waitFor(timeout ? { timeout } : {});
};
async function login(token) {
  await page.goto(env.CONSOLE_URL);
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.locator('a.cluster-link', { hasText: env.CLUSTER }).waitFor();
}

await check('the login page loads with the strict CSP and refuses a wrong token', async () => {
  const res = await page.goto(env.CONSOLE_URL);
  const csp = res.headers()['content-security-policy'] || '';
  if (!csp.includes("script-src 'self'") || !csp.includes("frame-ancestors 'none'")) throw new Error(`CSP: ${csp}`);
  await page.locator('#token').waitFor();
  await shot('login');
  await page.fill('#token', 'not-a-token');
  await page.click('button[type=submit]');
  await expectText(page.locator('.error'), /does not accept this token/);
}, 401);

await check('an operator logs in and sees the demo cluster connected', async () => {
  await login(env.OPERATOR_TOKEN);
  const row = page.locator('tr', { has: page.locator('a.cluster-link', { hasText: env.CLUSTER }) });
  await expectText(row.locator('.badge'), /Connected/);
  await expectText(page.locator('.who'), /demo-operator/);
  await shot('clusters');
});

await check('the cluster view lists the shop namespace and the search narrows it', async () => {
  await page.click(`a.cluster-link:has-text("${env.CLUSTER}")`);
  const shop = page.locator('section[data-namespace="shop"]');
  await expectText(shop.locator('td'), /^frontend$/);
  await page.fill('#search', 'front');
  await page.locator('section[data-namespace="shop"] td', { hasText: /^cart$/ }).waitFor({ state: 'detached' });
  await page.fill('#search', '');
  await expectText(page.locator('#action-result, body'), /Leader/);
  // The demo's pods (scripts/demo-cluster.sh): cart's ReplicaSet pods are
  // ready and one restarted 3 times; frontend's pods do not count for cart.
  const cart = shop.locator('tr', { has: page.locator('td', { hasText: /^cart$/ }) });
  await expectText(cart.locator('td').nth(2), /^2\/2$/);
  await expectText(cart.locator('td').nth(4), /^3$/);
  const frontend = shop.locator('tr', { has: page.locator('td', { hasText: /^frontend$/ }) });
  await expectText(frontend.locator('td').nth(4), /^0$/);
  await shot('cluster');
});

await check('the nodes tab shows each node Ready from its projected conditions, and its usage', async () => {
  await page.click('#tab-nodes');
  const row = page.locator('tr', { has: page.locator('td', { hasText: /^demo-node-1$/ }) });
  await expectText(row.locator('td').nth(1), /^Ready$/);
  // metrics-server's figures as the demo wrote them (500m, 3 GiB).
  await expectText(row.locator('td').nth(4), /^500m$/);
  await expectText(row.locator('td').nth(5), /^3072Mi$/);
  await shot('nodes');
  await page.click('#tab-workloads');
});

await check('scaling shop/frontend asks for confirmation and the new count arrives through the stream', async () => {
  const row = page.locator('section[data-namespace="shop"] tr', { has: page.locator('td', { hasText: /^frontend$/ }) });
  await row.locator('button[data-action="workload.scale"]').waitFor();
  await page.waitForFunction(() => !document.querySelector('button[data-action="workload.scale"]').disabled);
  await row.locator('button[data-action="workload.scale"]').click();
  const dialog = page.locator('dialog#confirm');
  await expectText(dialog, /demo-cluster/);
  await expectText(dialog.locator('dd'), /^shop$/);
  await page.fill('#field-replicas', '5');
  await shot('scale-dialog');
  await page.click('#confirm-ok');
  await expectText(page.locator('#action-result .status.ok'), /Done/);
  await expectText(row.locator('td.replicas'), /^5$/);
});

await check('Scan now runs a scan and the findings show with their remediation', async () => {
  await page.click('#tab-security');
  await page.locator('#score').waitFor();
  await page.click('#scan-now');
  await expectText(page.locator('#action-result .status.ok'), /scan: Done/);
  const finding = page.locator('details.finding[data-check="run-as-root"]');
  await finding.locator('summary').click();
  await expectText(finding, /shop\/frontend/);
  await expectText(finding.locator('.remediation'), /Fix:/);
  await expectText(page.locator('#readiness tr', { hasText: /^shop/ }), /would reject|nothing rejected|strictest/);
  await shot('security');
});

await check('a manifest is applied after a dry-run diff and a confirmation', async () => {
  await page.click('#tab-actions');
  await page.fill('#manifest', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: console-test\n  namespace: shop\ndata:\n  greeting: hello\n');
  await page.click('#apply-dry-run');
  await expectText(page.locator('.diff'), /ConfigMap shop\/console-test — created/);
  await shot('apply-diff');
  await page.click('#apply-confirm');
  await page.click('#confirm-ok');
  await expectText(page.locator('#action-result .status'), /manifests.apply: Done/);
});

await check('a chart archive is installed with values, listed and uninstalled through the Helm form', async () => {
  const dir = envFile.slice(0, envFile.lastIndexOf('/'));
  const chart = readdirSync(dir).find((f) => /^configmap-only-.*\.tgz$/.test(f));
  if (!chart) throw new Error(`no packaged chart in ${dir} (the demo packages one)`);
  await page.fill('#helm-ns', 'shop');
  await page.fill('#helm-release', 'console-notes');
  await page.setInputFiles('#helm-archive', join(dir, chart));
  await page.fill('#helm-values', '{"greeting": "from the console"}');
  await page.click('button:has-text("Install or upgrade…")');
  await expectText(page.locator('dialog#confirm dd'), /^console-notes$/);
  await page.click('#confirm-ok');
  await expectText(page.locator('#action-result .status'), /helm list -n shop: Done/, 60000);
  const row = page.locator('tr', { has: page.locator('td', { hasText: /^console-notes$/ }) });
  await expectText(row.locator('td'), /deployed/);
  await row.locator('button:has-text("Uninstall…")').click();
  await page.click('#confirm-ok');
  await page.locator('td', { hasText: /^console-notes$/ }).waitFor({ state: 'detached', timeout: 60000 });
});

await check('an action outside the allow-list is refused and says so', async () => {
  const answer = await page.evaluate(async (cluster) => {
    const r = await fetch(`/api/v1/clusters/${cluster}/requests`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${sessionStorage.getItem('srexpert.hub.token')}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'workload.scale', payload: { kind: 'Deployment', namespace: 'srexpert-system', name: 'x', replicas: 1 } }),
    });
    return r.json();
  }, env.CLUSTER);
  if (!answer || answer.ok !== false || answer.error.code !== 'forbidden') throw new Error(JSON.stringify(answer));
});

await check('the audit tab shows who did what', async () => {
  await page.click('#tab-audit');
  await expectText(page.locator('td'), /^workload\.scale$/);
  await expectText(page.locator('td'), /demo-operator/);
  await shot('audit');
});

await check('a viewer sees no action buttons and the API refuses its actions', async () => {
  await page.click('.who button');
  await login(env.VIEWER_TOKEN);
  await page.click(`a.cluster-link:has-text("${env.CLUSTER}")`);
  await expectText(page.locator('section[data-namespace="shop"] td'), /^frontend$/);
  const buttons = await page.locator('button[data-action]').count();
  if (buttons !== 0) throw new Error(`${buttons} action buttons shown to a viewer`);
  const status = await page.evaluate(async (cluster) => {
    const r = await fetch(`/api/v1/clusters/${cluster}/requests`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${sessionStorage.getItem('srexpert.hub.token')}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'workload.scale', payload: { kind: 'Deployment', namespace: 'shop', name: 'frontend', replicas: 1 } }),
    });
    return r.status;
  }, env.CLUSTER);
  if (status !== 403) throw new Error(`viewer POST answered ${status}`);
  await page.click('#tab-actions');
  await expectText(page.locator('.empty'), /operator role/);
}, 403);

await browser.close();
if (problems.length) {
  console.log(`FAIL: the page logged errors:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('console: every step passed');
