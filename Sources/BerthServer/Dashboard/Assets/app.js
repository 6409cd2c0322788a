// Berth dashboard: a single page that reads the REST API with the token the user signed in with.
// No framework and no external asset; every element is built with textContent, never innerHTML,
// so nothing an execution prints or names can run as markup. The style sheet and this script are
// served by the berth binary itself (docs/dashboard.md).
'use strict';

const TOKEN_KEY = 'berth.token';
const STATES = ['queued', 'scheduled', 'starting', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost'];
const ACTIVE = ['queued', 'scheduled', 'starting', 'running'];
const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
const LOG_TAIL = 1000;        // lines shown when an execution page opens
const LOG_KEEP = 5000;        // chunks kept on the page; older ones are dropped
const main = document.getElementById('main');
let cleanups = [];            // what the current view must stop when the user leaves it

// ---- Small helpers ---------------------------------------------------------------------------

/** An element with attributes and children (strings become text nodes). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function show(...nodes) { main.replaceChildren(...nodes); }

/** `45s`, `3m12s`, `2h5m`, `4d3h`, as the CLI prints them. */
function duration(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  if (total < 60) return `${total}s`;
  if (total < 3600) return `${Math.floor(total / 60)}m${total % 60}s`;
  if (total < 86400) return `${Math.floor(total / 3600)}h${Math.floor(total % 3600 / 60)}m`;
  return `${Math.floor(total / 86400)}d${Math.floor(total % 86400 / 3600)}h`;
}

function since(time) { return time ? duration((Date.now() - Date.parse(time)) / 1000) : '–'; }

function runTime(execution) {
  if (!execution.started_at) return '–';
  const end = execution.finished_at ? Date.parse(execution.finished_at) : Date.now();
  return duration((end - Date.parse(execution.started_at)) / 1000);
}

function badge(state) {
  return h('span', { class: `badge state-${state}`, 'data-state': state }, state.replace('_', ' '));
}

function shortID(id) { return id.slice(0, 8); }

/** What a `::berth::progress` object says: a fraction (0–1), a count and a label (docs/outputs.md). */
function readProgress(object) {
  const number = key => (typeof object[key] === 'number' ? object[key] : undefined);
  const done = number('step') ?? number('current') ?? number('done');
  const total = number('of') ?? number('total');
  let fraction;
  if (number('percent') !== undefined) fraction = number('percent') / 100;
  else if (number('fraction') !== undefined) fraction = number('fraction');
  else if (done !== undefined && total !== undefined && total > 0) fraction = done / total;
  if (fraction !== undefined) fraction = Math.min(Math.max(fraction, 0), 1);
  const count = done !== undefined && total !== undefined ? `${done}/${total}` : undefined;
  const label = ['message', 'stage', 'status'].map(key => object[key]).find(value => typeof value === 'string');
  return { fraction, count, label };
}

function progressBar(progress) {
  const fill = h('div', { class: 'fill' });
  const bar = h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, fill);
  const words = [];
  if (progress.fraction !== undefined) {
    fill.style.width = `${(progress.fraction * 100).toFixed(1)}%`;
    bar.setAttribute('aria-valuenow', Math.floor(progress.fraction * 100));
    words.push(`${Math.floor(progress.fraction * 100)}%`);
  } else {
    bar.classList.add('unknown');
  }
  if (progress.count) words.push(progress.count);
  if (progress.label) words.push(progress.label);
  return h('div', { class: 'progress' }, bar, h('span', { class: 'progress-text' }, words.join(' · ')));
}

// ---- The API ---------------------------------------------------------------------------------

class APIError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code;
  }
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function headers(extra = {}) {
  return { Authorization: `Bearer ${token()}`, ...extra };
}

async function failure(response) {
  let problem = {};
  try { problem = await response.json(); } catch (_) { /* not JSON */ }
  if (response.status === 401) signOut('The token was not accepted: sign in again.');
  return new APIError(response.status, problem);
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/**
 * Reads server-sent events from `path` with the token in a header (a browser's EventSource
 * cannot send one), calling `onEvent(type, data, id)` for each. Returns when the stream ends.
 */
async function readEvents(path, onEvent, signal, extraHeaders = {}) {
  const response = await fetch(path, { headers: headers({ Accept: 'text/event-stream', ...extraHeaders }), signal });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message', id = null;
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'event') type = text;
        else if (field === 'data') data.push(text);
        else if (field === 'id') id = text;
      }
      if (data.length || type !== 'message') onEvent(type, data.join('\n'), id);
    }
  }
}

/** Keeps a stream of events open while the view lives, reconnecting after a second if it drops. */
function follow(path, onEvent, options = {}) {
  const controller = new AbortController();
  cleanups.push(() => controller.abort());
  (async () => {
    let last = null;
    while (!controller.signal.aborted) {
      let ended = false;
      try {
        const resume = last === null ? {} : { 'Last-Event-ID': last };
        await readEvents(last === null ? path : (options.resumePath || path), (type, data, id) => {
          if (id !== null) last = id;
          if (type === 'end') ended = true;
          onEvent(type, data);
        }, controller.signal, resume);
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error instanceof APIError && error.status !== 503) { options.onError?.(error); return; }
      }
      if (ended || options.once) return;
      await new Promise(resolve => setTimeout(resolve, 1000));
    }
  })();
}

/** Calls `task` now and every `seconds` while the view lives. */
function every(seconds, task) {
  task();
  const timer = setInterval(task, seconds * 1000);
  cleanups.push(() => clearInterval(timer));
}

// ---- Views -----------------------------------------------------------------------------------

function errorBox(error) {
  return h('p', { class: 'error', role: 'alert' }, error.message || String(error));
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  loginView(message);
}

function loginView(message) {
  document.body.classList.add('signed-out');
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', required: true,
    placeholder: 'berth_…', 'aria-label': 'API token' });
  const status = h('p', { class: 'error', role: 'alert', id: 'login-error' }, message || '');
  const form = h('form', { class: 'login', id: 'login', onsubmit: async event => {
    event.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) return;
    const response = await fetch('/v1/executions?limit=1', { headers: { Authorization: `Bearer ${candidate}` } });
    if (response.ok || response.status === 403) {
      sessionStorage.setItem(TOKEN_KEY, candidate);
      document.body.classList.remove('signed-out');
      if (!location.hash || location.hash === '#/login') location.hash = '#/executions';
      else route();
    } else {
      status.textContent = response.status === 401 ? 'This token was not accepted (unknown, revoked or expired).'
        : `The server answered ${response.status}.`;
    }
  } },
  h('h1', {}, 'Sign in to Berth'),
  h('label', { for: 'token' }, 'API token'),
  input,
  h('button', { type: 'submit' }, 'Sign in'),
  status,
  h('p', { class: 'hint' }, 'Any admin, submitter or viewer token works: ', h('code', {}, 'berth token create NAME --role viewer'),
    ' makes one. The token stays in this tab only (session storage) and is sent in the Authorization header.'));
  show(form);
  input.focus();
}

function filtersForm(params, hosts) {
  const state = h('select', { name: 'state', id: 'filter-state' },
    h('option', { value: '' }, 'active'), h('option', { value: 'all' }, 'all'),
    STATES.map(name => h('option', { value: name }, name.replace('_', ' '))));
  state.value = params.get('state') || '';
  const host = h('select', { name: 'host', id: 'filter-host' }, h('option', { value: '' }, 'any host'),
    hosts.map(item => h('option', { value: item.name }, item.name)));
  host.value = params.get('host') || '';
  const name = h('input', { name: 'name', id: 'filter-name', placeholder: 'name', value: params.get('name') || '' });
  const label = h('input', { name: 'label', id: 'filter-label', placeholder: 'label key=value', value: params.get('label') || '' });
  return h('form', { class: 'filters', onsubmit: event => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, element] of [['state', state], ['host', host], ['name', name], ['label', label]]) {
      if (element.value) next.set(key, element.value);
    }
    if (params.get('limit')) next.set('limit', params.get('limit'));
    location.hash = `#/executions?${next}`;
  } }, state, host, name, label, h('button', { type: 'submit' }, 'Filter'));
}

async function executionsView(params) {
  const table = h('tbody');
  const pager = h('nav', { class: 'pager' });
  const problem = h('div');
  const summary = h('p', { class: 'summary' });
  let hosts = [];
  try { hosts = (await api('/v1/hosts')).items; } catch (_) { /* the filter just lists no hosts */ }
  show(h('h1', {}, 'Executions'), filtersForm(params, hosts), problem, summary,
    h('table', { class: 'executions' },
      h('thead', {}, h('tr', {}, ['ID', 'Name', 'Image', 'State', 'Host', 'Age', 'Duration'].map(title => h('th', {}, title)))),
      table),
    pager);

  const query = new URLSearchParams();
  const state = params.get('state');
  if (!state) ACTIVE.forEach(name => query.append('state', name));
  else if (state !== 'all') query.set('state', state);
  for (const key of ['host', 'name', 'label', 'limit', 'after']) if (params.get(key)) query.set(key, params.get(key));

  async function load() {
    try {
      const page = await api(`/v1/executions?${query}`);
      problem.replaceChildren();
      table.replaceChildren(...page.items.map(execution => h('tr', { 'data-id': execution.id },
        h('td', {}, h('a', { href: `#/executions/${execution.id}`, class: 'mono' }, shortID(execution.id))),
        h('td', {}, execution.name || '–'),
        h('td', { class: 'mono' }, execution.image),
        h('td', {}, badge(execution.state), execution.exit_code !== null && TERMINAL.has(execution.state) ? ` (${execution.exit_code})` : ''),
        h('td', {}, execution.host || execution.target_host || '–'),
        h('td', {}, since(execution.created_at)),
        h('td', {}, runTime(execution)))));
      summary.textContent = page.items.length ? '' : 'No executions match.';
      const links = [];
      if (params.get('after')) {
        const first = new URLSearchParams(params);
        first.delete('after');
        links.push(h('a', { href: `#/executions?${first}`, id: 'newest' }, '← Newest'));
      }
      if (page.next) {
        const older = new URLSearchParams(params);
        older.set('after', page.next);
        links.push(h('a', { href: `#/executions?${older}`, id: 'older' }, 'Older →'));
      }
      pager.replaceChildren(...links);
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  }
  await load();
  // The first page changes as executions do: reload it on their events (at most once a second).
  if (!params.get('after')) {
    let pending = null;
    follow('/v1/events', () => {
      if (pending) return;
      pending = setTimeout(() => { pending = null; load(); }, 1000);
    });
    cleanups.push(() => clearTimeout(pending));
  }
}

function detailRows(execution) {
  const rows = [
    ['ID', h('span', { class: 'mono' }, execution.id)],
    ['Image', h('span', { class: 'mono' }, execution.image)],
    ['Command', h('span', { class: 'mono' }, [...(execution.command || []), ...(execution.args || [])].join(' ') || '(the image\'s)')],
    ['Host', execution.host || (execution.target_host ? `${execution.target_host} (asked for)` : '–')],
    ['Owner', execution.owner],
    ['Attempts', `${execution.attempts} of ${execution.max_attempts}`],
    ['Exit code', execution.exit_code ?? '–'],
    ['Reason', execution.state_reason || '–'],
    ['Created', execution.created_at],
    ['Started', execution.started_at || '–'],
    ['Finished', execution.finished_at || '–'],
    ['Run time', runTime(execution)],
  ];
  if (execution.error) rows.push(['Error', `${execution.error.message} (${execution.error.code})`]);
  const labels = Object.entries(execution.labels || {});
  if (labels.length) rows.push(['Labels', labels.map(([key, value]) => `${key}=${value}`).join(', ')]);
  return rows.map(([key, value]) => [h('dt', {}, key), h('dd', {}, value)]);
}

async function executionView(id) {
  const title = h('h1', {}, shortID(id));
  const state = h('span', { id: 'state' });
  const cancel = h('button', { type: 'button', id: 'cancel', class: 'danger', hidden: true }, 'Cancel');
  const problem = h('div');
  const details = h('dl', { class: 'details' });
  const progress = h('div', { id: 'progress' });
  const logs = h('pre', { id: 'logs', class: 'logs', 'aria-live': 'polite' });
  const logNote = h('p', { class: 'hint', id: 'log-note' });
  const events = h('tbody');
  show(h('div', { class: 'title' }, title, state, cancel), problem, details,
    h('h2', {}, 'Progress'), progress,
    h('h2', {}, 'Output'), logNote, logs,
    h('h2', {}, 'Events'),
    h('table', { class: 'events' }, h('thead', {}, h('tr', {}, ['Seq', 'At', 'Change', 'Attempt', 'Reason'].map(text => h('th', {}, text)))), events));

  let execution;
  async function refresh() {
    try {
      execution = await api(`/v1/executions/${id}`);
    } catch (error) {
      problem.replaceChildren(errorBox(error));
      return false;
    }
    title.textContent = execution.name ? `${execution.name} · ${shortID(id)}` : shortID(id);
    state.replaceChildren(badge(execution.state));
    cancel.hidden = TERMINAL.has(execution.state);
    details.replaceChildren(...detailRows(execution).flat());
    try {
      const list = await api(`/v1/executions/${id}/events`);
      events.replaceChildren(...list.items.map(event => h('tr', {},
        h('td', {}, event.seq), h('td', {}, event.at),
        h('td', {}, `${event.from_state || '–'} → ${event.to_state}`), h('td', {}, event.attempt ?? '–'), h('td', {}, event.reason))));
    } catch (_) { /* the events table keeps what it had */ }
    return true;
  }
  cancel.addEventListener('click', async () => {
    try { await api(`/v1/executions/${id}/cancel`, { method: 'POST' }); refresh(); } catch (error) { problem.replaceChildren(errorBox(error)); }
  });
  if (!await refresh()) return;

  function showProgress(object) { progress.replaceChildren(progressBar(readProgress(object))); }
  progress.replaceChildren(h('p', { class: 'hint' }, 'No progress reported yet.'));
  try { showProgress((await api(`/v1/executions/${id}/progress`)).progress); } catch (_) { /* none yet */ }

  // The output: the last lines, then new chunks as the execution writes them.
  let stdoutLine = '';
  let shownChunks = 0;
  function append(chunk) {
    logs.append(h('span', { class: chunk.stream }, chunk.data));
    if (++shownChunks > LOG_KEEP) { logs.firstChild.remove(); logNote.textContent = `Older output is not shown here: berth logs ${id} prints all of it.`; }
    if (chunk.stream !== 'stdout') return;
    const lines = (stdoutLine + chunk.data).split('\n');
    stdoutLine = lines.pop();
    for (const line of lines) {
      if (!line.startsWith('::berth::progress ')) continue;
      try { showProgress(JSON.parse(line.slice('::berth::progress '.length))); } catch (_) { /* not JSON: the server ignores it too */ }
    }
    const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 40;
    if (atBottom) logs.scrollTop = logs.scrollHeight;
  }
  logNote.textContent = `The last ${LOG_TAIL} lines, then new output as it comes.`;
  follow(`/v1/executions/${id}/logs?follow=true&tail=${LOG_TAIL}`, (type, data) => {
    if (type === 'log') append(JSON.parse(data));
    if (type === 'end') refresh();
  }, { resumePath: `/v1/executions/${id}/logs?follow=true`, onError: error => logNote.replaceChildren(errorBox(error)) });
  // The state, live: every transition of this execution.
  if (!TERMINAL.has(execution.state)) {
    follow(`/v1/events?execution=${id}`, type => { if (type === 'transition') refresh(); });
  }
  every(1, () => { if (execution && !TERMINAL.has(execution.state)) details.replaceChildren(...detailRows(execution).flat()); });
}

async function hostsView() {
  const table = h('tbody');
  const problem = h('div');
  show(h('h1', {}, 'Hosts'), problem,
    h('table', { class: 'hosts' },
      h('thead', {}, h('tr', {}, ['Name', 'Plugin', 'Health', 'Load', 'Message'].map(text => h('th', {}, text)))), table));
  every(5, async () => {
    try {
      const hosts = (await api('/v1/hosts')).items;
      problem.replaceChildren();
      table.replaceChildren(...hosts.map(host => {
        const ok = host.health?.ok;
        const capacity = host.capacity;
        const load = capacity ? h('div', { class: 'load' },
          progressBar({ fraction: capacity.max_concurrent > 0 ? capacity.running / capacity.max_concurrent : undefined }),
          h('span', {}, `${capacity.running}/${capacity.max_concurrent} running`)) : '–';
        return h('tr', { 'data-host': host.name },
          h('td', {}, host.name), h('td', {}, host.plugin),
          h('td', {}, h('span', { class: `badge ${ok ? 'ok' : 'bad'}` }, ok === undefined ? '–' : ok ? 'healthy' : 'unhealthy')),
          h('td', {}, load),
          h('td', { class: 'message' }, host.error?.message || host.health?.message || ''));
      }));
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  });
}

async function pluginsView() {
  const table = h('tbody');
  const problem = h('div');
  show(h('h1', {}, 'Plugins'), problem,
    h('table', { class: 'plugins' },
      h('thead', {}, h('tr', {}, ['Name', 'Version', 'ABI', 'State', 'File'].map(text => h('th', {}, text)))), table));
  try {
    const plugins = (await api('/v1/plugins')).items;
    table.replaceChildren(...plugins.map(plugin => h('tr', {},
      h('td', {}, plugin.name || '–'), h('td', {}, plugin.version || '–'), h('td', {}, plugin.abi_version ?? '–'),
      h('td', {}, plugin.loaded ? h('span', { class: 'badge ok' }, 'loaded')
        : [h('span', { class: 'badge bad' }, 'not loaded'), ' ', plugin.error]),
      h('td', { class: 'mono' }, plugin.file))));
  } catch (error) {
    problem.replaceChildren(errorBox(error));
  }
}

// ---- Routing ---------------------------------------------------------------------------------

/** Shows the view of the address's fragment: `#/executions?…`, `#/executions/ID`, `#/hosts`, `#/plugins`. */
function route() {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
  const [path, search] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(search || '');
  // A link may carry the token (`#/hosts?token=…`, for scripts): keep it, and take it out of the address.
  if (params.has('token')) {
    sessionStorage.setItem(TOKEN_KEY, params.get('token'));
    params.delete('token');
    history.replaceState(null, '', `#${path || '/executions'}${params.toString() ? `?${params}` : ''}`);
  }
  if (!token() || path === '/login') { loginView(); return; }
  document.body.classList.remove('signed-out');
  const section = (path || '/executions').split('/')[1];
  for (const link of document.querySelectorAll('header nav a')) {
    link.classList.toggle('current', link.dataset.section === section);
  }
  const match = path.match(/^\/executions\/([0-9a-f-]{36})$/);
  if (match) executionView(match[1]);
  else if (!path || path === '/' || path === '/executions') executionsView(params);
  else if (path === '/hosts') hostsView();
  else if (path === '/plugins') pluginsView();
  else show(h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/executions' }, 'Executions')));
}

document.getElementById('sign-out').addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', route);
route();
