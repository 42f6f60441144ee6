// The console's entry point: the login, the routes (#/clusters,
// #/clusters/<name>/<tab>) and the header. Pages live in their own modules.
import * as api from './api.js';
import { h, replace } from './dom.js';
import { renderClusters } from './clusters.js';
import { renderCluster } from './cluster.js';
import { session, leaveCurrent } from './state.js';

const main = document.getElementById('main');
const who = document.getElementById('who');

function logout(message) {
  api.clearToken();
  session.me = null;
  location.hash = '#/login';
  if (message) sessionStorage.setItem('srexpert.hub.message', message);
  route();
}

api.onUnauthorized(() => {
  if (session.me) logout('The hub no longer accepts this token; log in again.');
});

function renderWho() {
  if (!session.me) return replace(who);
  replace(who,
    h('span', { class: 'user' }, `${session.me.name} `, h('span', { class: 'role' }, session.me.role)),
    h('button', { class: 'link', type: 'button', onclick: () => logout() }, 'Log out'));
}

function renderLogin() {
  const message = sessionStorage.getItem('srexpert.hub.message');
  sessionStorage.removeItem('srexpert.hub.message');
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const error = h('p', { class: 'error', role: 'alert' }, message || '');
  const form = h('form', {
    class: 'login card',
    onsubmit: async (e) => {
      e.preventDefault();
      api.setToken(input.value.trim());
      try {
        session.me = await api.get('/api/v1/me');
        location.hash = '#/clusters';
      } catch (err) {
        api.clearToken();
        replace(error, err.status === 401 ? 'The hub does not accept this token.' : err.message);
      }
    },
  },
  h('h1', {}, 'Log in'),
  h('label', { for: 'token' }, 'API token'),
  input,
  h('p', { class: 'hint' }, 'A token from the hub\'s users file (--users-file). It stays in this tab only.'),
  h('button', { class: 'primary', type: 'submit' }, 'Log in'),
  error);
  replace(main, form);
  input.focus();
}

async function route() {
  leaveCurrent();
  const hash = location.hash.replace(/^#\/?/, '');
  const parts = hash.split('/').map(decodeURIComponent);
  if (!api.token()) {
    renderWho();
    return renderLogin();
  }
  if (!session.me) {
    try {
      session.me = await api.get('/api/v1/me');
    } catch (err) {
      if (err.status !== 401) replace(main, h('p', { class: 'error' }, err.message));
      return;
    }
  }
  renderWho();
  if (parts[0] === 'clusters' && parts[1]) return renderCluster(main, parts[1], parts[2] || 'workloads');
  if (parts[0] !== 'clusters') location.hash = '#/clusters';
  return renderClusters(main);
}

window.addEventListener('hashchange', route);
route();
