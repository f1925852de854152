/* shopkeep handoff console: plain JavaScript (ES2020), no dependencies, no build step.
 * The page (index.html) holds the fixed layout; this file fills it from the console API
 * (/console/api/*, see bot/console). Everything that comes from the server (shopper text, names,
 * notes, canned text, sources) reaches the DOM only through textContent or setAttribute on safe
 * attributes; the only links built from server data are knowledge sources with an http(s) URL.
 *
 * Stable data-role hooks (for browser tests):
 *   login, login-form, login-name, login-password, login-submit, login-error
 *   app, nav-queue, nav-search, nav-summary, nav-admin, queue-count, live, me, logout, status
 *   view-queue, queue, queue-empty, queue-item (data-id=CID, aria-current="true" when open),
 *     queue-reason, queue-wait, queue-status, queue-message (data-from)
 *   conversation (data-id=CID), conversation-close, conversation-empty, conv-title, conv-meta,
 *     take, take-force (admins, after a 409), handback, resolve, suggest, export,
 *     transcript, entry (data-from=user|bot|agent, data-id, data-failed), entry-text, trace,
 *     failed, sources, note, note-text,
 *     reply-form, reply-input, reply-send, reply-hint, suggestion, canned, canned-picker,
 *     canned-item (data-shortcut), note-form, note-input, note-add
 *   view-search, search-form, search-text, search-sender, search-channel, search-since,
 *     search-until, search-submit, search-count, search-results, search-result (data-id)
 *   view-summary, metrics-days (data-days), metrics, metric-conversations, metric-bot-share,
 *     metric-handoffs, metric-median, chart-reasons, chart-days, bar, gaps
 *   view-admin, agents, agent (data-name), agent-remove, agent-form, agent-add-name,
 *     agent-add-password, agent-add-role, agent-add, canned-admin, canned-row (data-shortcut),
 *     canned-remove, canned-form, canned-add-shortcut, canned-add-lang, canned-add-text, canned-add
 * Remove buttons (agent-remove, canned-remove) ask for a second click ("Confirm") within 5 s.
 */
(() => {
'use strict';

// ---- helpers
const $ = (role, root = document) => root.querySelector(`[data-role="${role}"]`);
const $$ = (role, root = document) => [...root.querySelectorAll(`[data-role="${role}"]`)];
const str = v => (typeof v === 'string' ? v : v == null ? '' : String(v));
const isObj = v => !!v && typeof v === 'object' && !Array.isArray(v);
const list = v => (Array.isArray(v) ? v : []);
const isNum = v => typeof v === 'number' && isFinite(v);
const enc = encodeURIComponent;

// h('div.a.b', attributes, children): "text" sets textContent, "on..." adds a listener.
function h(tag, attrs, kids) {
  const [name, ...cls] = tag.split('.');
  const el = document.createElement(name);
  if (cls[0]) el.className = cls.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids || []) if (c != null && c !== false && c !== '') el.append(c);
  return el;
}

// "45 s", "2 min 5 s", "1 h 4 min", "3 d 2 h"
function duration(s) {
  s = Math.max(0, Math.floor(Number(s) || 0));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
// Server times are unix seconds; ISO strings are accepted too.
function toDate(v) {
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) v = Number(v);
  const d = isNum(v) ? new Date(v * 1000) : typeof v === 'string' && v ? new Date(v) : null;
  return d && !isNaN(d) ? d : null;
}
const millis = v => (toDate(v) || new Date(0)).getTime();
// A short local time: "14:02" today, "Nov 29, 14:02" on other days.
function when(v) {
  const d = toDate(v);
  if (!d) return '';
  if (d.toDateString() === new Date().toDateString()) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleString([], { month: 'short', day: 'numeric', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}
const timeEl = v => { const d = toDate(v); return d ? h('time', { datetime: d.toISOString(), text: when(v) }) : null; };
// A share 0..1 as "87%".
const pct = x => (isNum(x) ? `${Math.round(Math.min(1, Math.max(0, x)) * 100)}%` : '—');

const REASONS = {
  asked_for_person: 'Asked for a person', not_answered: 'Bot could not answer twice',
  negative_sentiment: 'Negative sentiment', agent_picked: 'Picked by an agent', handoff_action: 'Handoff action'
};
const reasonText = r => REASONS[r] || str(r) || 'Unknown reason';
const LANGS = { en: 'English', zh: 'Chinese' };
const langText = l => LANGS[l] || str(l).toUpperCase() || 'language unknown';
const roleOf = r => (r === 'user' || r === 'agent' ? r : 'bot');
const ROLES = { user: 'Shopper', bot: 'Bot', agent: 'Agent' };
const whoText = (role, agent) => (role === 'agent' && agent ? `Agent ${str(agent)}` : ROLES[role]);

// A source (a title string or {title, url}): a link only for an absolute http(s) URL.
function sourceEl(s) {
  const title = isObj(s) ? str(s.title || s.id || s.url) : str(s);
  if (!title) return null;
  const url = isObj(s) ? str(s.url).trim() : '';
  if (/^https?:\/\//i.test(url)) {
    try { return h('a', { href: new URL(url).href, target: '_blank', rel: 'noopener noreferrer', text: title }); } catch (e) { /* bad URL: text */ }
  }
  return h('span', { text: title });
}
function sourcesEl(sources, label) {
  const els = list(sources).map(sourceEl).filter(Boolean);
  if (!els.length) return null;
  const box = h('div.sources', { 'data-role': 'sources' }, [label]);
  els.forEach((el, i) => box.append(i ? ' · ' : '', el));
  return box;
}

// ---- state
let me = null; // {name, role}
let csrf = '';
let view = 'queue';

// ---- status line: errors stay until replaced, confirmations fade after 5 s
let statusTimer = null;
function setStatus(text, kind = 'info') {
  const el = $('status');
  clearTimeout(statusTimer);
  el.textContent = text || '';
  el.setAttribute('data-kind', text ? kind : '');
  if (text && kind !== 'error') statusTimer = setTimeout(() => setStatus(''), 5000);
}
const clearError = () => { if ($('status').getAttribute('data-kind') === 'error') setStatus(''); };

// ---- the API
class ApiError extends Error {
  constructor(status, message, data, retryAfter) {
    super(message);
    Object.assign(this, { status, data, retryAfter });
  }
}
// fetch + JSON. On 401 the login form comes back; other errors go to the status line unless quiet.
async function api(method, path, body, { quiet = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  let res, data = null;
  try {
    res = await fetch('/console/api/' + path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body)
    });
  } catch (e) {
    const err = new ApiError(0, 'Cannot reach the server. Check the connection and try again.');
    if (!quiet) setStatus(err.message, 'error');
    throw err;
  }
  try { data = await res.json(); } catch (e) { /* an empty or non-JSON body */ }
  if (res.ok) return isObj(data) ? data : {};
  const msg = isObj(data) && typeof data.error === 'string' && data.error ? data.error : `Request failed (HTTP ${res.status})`;
  const wait = Number(isObj(data) && data.retry_after_s) || Number(res.headers.get('Retry-After')) || 0;
  const err = new ApiError(res.status, msg, data, wait);
  if (res.status === 401 && path !== 'login') { if (me) signedOut('Your session has ended. Please log in again.'); }
  else if (!quiet) setStatus(msg, 'error');
  // A 403 may be a stale CSRF token (a new login in another tab): fetch the current one for next time.
  if (res.status === 403 && method !== 'GET' && me) api('GET', 'me', undefined, { quiet: true }).then(d => { csrf = str(d.csrf) || csrf; }, () => {});
  throw err;
}
// Runs an action for a button (disabled meanwhile); errors were shown by api(), so they are swallowed.
async function run(btn, fn) {
  if (btn) btn.disabled = true;
  try { return await fn(); } catch (e) {
    if (!(e instanceof ApiError)) { console.error(e); setStatus('Something went wrong: ' + e.message, 'error'); }
    return null;
  } finally { if (btn) btn.disabled = false; }
}

// ---- login / logout
let lockTimer = null, lockedName = ''; // a login lockout's timer, and the name it was for
function showLogin(message) {
  $('app').hidden = true;
  $('login').hidden = false;
  loginError(message);
  $('login-password').value = '';
  $('login-name').focus();
}
function loginError(text) {
  const el = $('login-error');
  el.textContent = text || '';
  el.hidden = !text;
}
async function login(e) {
  e.preventDefault();
  const name = $('login-name').value.trim(), password = $('login-password').value;
  if (!name || !password) return loginError('Enter your name and password.');
  const btn = $('login-submit');
  btn.disabled = true;
  try {
    signedIn(await api('POST', 'login', { name, password }, { quiet: true }));
  } catch (err) {
    if (err.status === 429) return lockedOut(err.retryAfter);
    loginError(err.message);
    $('login-password').select();
  } finally {
    if (!lockTimer) btn.disabled = false;
  }
}
// 429: the message names the wait; the button stays off until it is over.
function lockedOut(seconds) {
  const s = Math.max(1, Math.ceil(seconds || 60));
  loginError(`Too many failed logins, try again in ${s} s`);
  $('login-submit').disabled = true;
  clearTimeout(lockTimer);
  lockTimer = setTimeout(unlockLogin, s * 1000);
  lockedName = $('login-name').value.trim();
}
// The lockout is per name: another name may try at once.
function unlockLogin() {
  clearTimeout(lockTimer);
  lockTimer = null;
  $('login-submit').disabled = false;
  loginError('');
}
function signedIn(d) {
  me = isObj(d.agent) ? { name: str(d.agent.name), role: str(d.agent.role) } : { name: '', role: '' };
  csrf = str(d.csrf);
  loginError('');
  $('login').hidden = true;
  $('app').hidden = false;
  $('me').textContent = `${me.name} (${me.role})`;
  $('nav-admin').hidden = me.role !== 'admin';
  showView(location.hash.slice(1));
  loadQueue();
  loadCanned();
  live.start();
}
// After a logout or a 401: forget everything on the page (a shared computer), show the form.
function signedOut(message) {
  me = null;
  csrf = '';
  live.stop();
  closeConversation();
  drafts.clear();
  $('reply-input').value = $('note-input').value = '';
  setQueue([]);
  $('search-results').replaceChildren();
  $('search-count').textContent = '';
  setStatus('');
  showLogin(message);
}
async function logout() {
  try { await api('POST', 'logout', undefined, { quiet: true }); } catch (e) { /* gone already */ }
  signedOut('');
}

// ---- views (the hash remembers which one: #queue, #search, #summary, #admin)
const VIEWS = ['queue', 'search', 'summary', 'admin'];
function showView(name) {
  if (!VIEWS.includes(name) || (name === 'admin' && me.role !== 'admin')) name = 'queue';
  if (name !== view) clearError();
  view = name;
  for (const v of VIEWS) {
    $('view-' + v).hidden = v !== name;
    $('nav-' + v).setAttribute('aria-current', v === name ? 'page' : 'false');
  }
  $('split').hidden = name !== 'queue' && name !== 'search';
  if (name === 'summary') loadMetrics();
  if (name === 'admin') loadAdmin();
  if (location.hash.slice(1) !== name) history.replaceState(null, '', '#' + name);
}

// ---- queue
let queue = [];
let queueAt = 0; // Date.now() when the queue arrived: wait = wait_s + time since (no clock skew)
let queueRev = 0;
const rows = new Map(); // CID -> {li, q}

function setQueue(items) {
  queueRev++;
  queue = list(items).filter(q => isObj(q) && q.id != null);
  queueAt = Date.now();
  renderQueue();
}
async function loadQueue() {
  const rev = queueRev;
  try {
    const d = await api('GET', 'queue');
    if (rev === queueRev) setQueue(d.queue); // else a newer live frame came first
  } catch (e) { /* shown */ }
}
const waitOf = q => (isNum(q.wait_s) ? q.wait_s + (Date.now() - queueAt) / 1000 : Date.now() / 1000 - (Number(q.since) || Date.now() / 1000));

// Rows are kept per CID and reordered, so focus and hover survive updates.
function renderQueue() {
  const ul = $('queue'), seen = new Set();
  queue.forEach((q, i) => {
    const id = str(q.id);
    seen.add(id);
    let row = rows.get(id);
    if (!row) {
      const btn = h('button.q-open', { type: 'button', onclick: () => openConversation(id) });
      row = { li: h('li.q-item', { 'data-role': 'queue-item', 'data-id': id }, [btn]), q };
      rows.set(id, row);
    }
    row.q = q;
    fillRow(row.li.firstChild, q);
    if (ul.children[i] !== row.li) ul.insertBefore(row.li, ul.children[i] || null);
  });
  for (const [id, row] of rows) if (!seen.has(id)) { row.li.remove(); rows.delete(id); }
  $('queue-empty').hidden = queue.length > 0;
  const waiting = queue.filter(q => q.status !== 'taken').length;
  $('queue-count').textContent = waiting ? String(waiting) : '';
  document.title = (waiting ? `(${waiting}) ` : '') + 'shopkeep console';
  markOpenRow();
  for (const q of queue) addChannel(q.channel);
}
function fillRow(btn, q) {
  const taken = q.status === 'taken';
  const holder = q.agent && me && q.agent === me.name ? 'you' : str(q.agent) || 'an agent';
  btn.replaceChildren(
    h('span.q-line', null, [
      h('span.q-channel', { text: str(q.channel) || 'unknown channel' }),
      h('span.tag', { text: langText(q.lang) }),
      h('span.q-reason', { 'data-role': 'queue-reason', text: reasonText(q.reason) }),
      // The ticking text is hidden from screen readers (the list is a live region).
      h('span.q-wait', { 'data-role': 'queue-wait', 'aria-hidden': 'true', text: duration(waitOf(q)) }),
      h('span.sr', { text: `, waiting since ${when(q.since) || 'unknown'}` })
    ]),
    h('span.q-line', null, [
      h(taken ? 'span.badge.badge-taken' : 'span.badge.badge-waiting', { 'data-role': 'queue-status', text: taken ? `Taken by ${holder}` : 'Waiting' }),
      q.after_hours && h('span.badge.badge-after', { text: 'After hours' }),
      q.contact_email && h('span.q-email', { text: `Contact: ${str(q.contact_email)}` })
    ]),
    h('span.q-messages', null, list(q.last_messages).filter(isObj).map(m => h('span.q-msg', { 'data-role': 'queue-message', 'data-from': roleOf(m.role) }, [
      h('span.q-who', { text: ROLES[roleOf(m.role)] + ': ' }),
      str(m.text)
    ])))
  );
}
function tick() {
  for (const row of rows.values()) {
    const el = $('queue-wait', row.li);
    if (el) el.textContent = duration(waitOf(row.q));
  }
}
function markOpenRow() {
  for (const [id, row] of rows) row.li.setAttribute('aria-current', String(id === openId));
}
// Channels seen in the queue join the search form's select.
function addChannel(name) {
  const sel = $('search-channel');
  name = str(name);
  if (name && ![...sel.options].some(o => o.value === name)) sel.append(h('option', { value: name, text: name }));
}

// ---- live updates: GET /console/api/live (WebSocket), reconnecting with backoff
const live = (() => {
  let ws = null, wanted = false, attempt = 0, timer = null;
  const url = () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/console/api/live`;
  function state(s, text) { const el = $('live'); el.setAttribute('data-state', s); el.textContent = text; }
  function connect() {
    clearTimeout(timer);
    timer = null;
    if (ws || !wanted) return;
    let sock, opened = false;
    try { sock = new WebSocket(url()); } catch (e) { return retry(); }
    ws = sock;
    sock.onopen = () => {
      opened = true;
      attempt = 0;
      state('on', 'Live');
      if (openId) refreshConversation(); // frames may have been missed while away
    };
    sock.onmessage = ev => { if (sock === ws) onFrame(ev.data); };
    sock.onclose = () => {
      if (sock !== ws) return;
      ws = null;
      if (!wanted) return;
      state('off', 'Reconnecting…');
      if (opened) return retry();
      // The handshake failed; the browser does not say why. A 401 means the session is gone.
      api('GET', 'me', undefined, { quiet: true }).then(d => { csrf = str(d.csrf) || csrf; retry(); }, e => { if (e.status !== 401) retry(); });
    };
  }
  function retry() { // exponential backoff with jitter, 0.5 s .. 30 s
    if (timer || ws || !wanted) return;
    const cap = Math.min(30000, 500 * 2 ** attempt++);
    timer = setTimeout(connect, Math.max(500, cap / 2 + Math.random() * cap / 2));
  }
  function onFrame(data) {
    let f;
    try { f = JSON.parse(data); } catch (e) { return; }
    if (!isObj(f)) return;
    if (f.type === 'queue') setQueue(f.queue);
    else if (f.type === 'conversation' && openId != null && str(f.id) === openId) refreshConversation();
  }
  return {
    start() { wanted = true; attempt = 0; state('off', 'Connecting…'); connect(); },
    stop() { wanted = false; clearTimeout(timer); timer = null; const s = ws; ws = null; if (s) s.close(); },
    wake() { if (wanted && !ws) { attempt = 0; connect(); } }
  };
})();

// ---- conversation
let openId = null; // CID of the open conversation
let conv = null; // its ConversationView
let convSeq = 0; // only the newest fetch is shown
const drafts = new Map(); // CID -> unsent reply text
const busy = new Set(); // data-roles of actions in flight

function openConversation(id) {
  if (openId !== id) {
    clearError(); // an error about the previous conversation
    if (openId != null) drafts.set(openId, $('reply-input').value);
    openId = id;
    conv = null;
    $('reply-input').value = drafts.get(id) || '';
    $('note-input').value = '';
    $('take-force').hidden = true;
    clearSuggestion();
    $('transcript').replaceChildren();
    $('conv-title').textContent = id;
    $('conv-meta').textContent = 'Loading…';
  }
  const sec = $('conversation');
  sec.setAttribute('data-id', id);
  sec.hidden = false;
  $('conversation-empty').hidden = true;
  $('split').classList.add('conv-open');
  $('export').href = `/console/api/conversations/${enc(id)}/export`;
  markOpenRow();
  updateActions();
  refreshConversation(true);
  if (matchMedia('(max-width: 759.98px)').matches) sec.scrollIntoView({ block: 'start' });
}
function closeConversation() {
  if (openId != null) drafts.set(openId, $('reply-input').value);
  openId = null;
  conv = null;
  convSeq++;
  $('conversation').hidden = true;
  $('conversation').removeAttribute('data-id');
  $('conversation-empty').hidden = false;
  $('split').classList.remove('conv-open');
  markOpenRow();
}
async function refreshConversation(toEnd) {
  const id = openId, seq = ++convSeq;
  if (id == null) return;
  let d;
  try { d = await api('GET', 'conversations/' + enc(id), undefined, { quiet: true }); } catch (e) {
    if (seq === convSeq && e.status !== 401) $('conv-meta').textContent = e.status === 404 ? 'This conversation does not exist (any more).' : e.message;
    return;
  }
  if (seq !== convSeq || id !== openId) return; // a newer fetch, or another conversation
  conv = d;
  renderConversation(toEnd);
}

// The handoff as words: "Waiting since 14:02 · Asked for a person · after hours · contact: …"
function handoffText(ho) {
  if (!isObj(ho)) return 'The bot is answering (no handoff).';
  const st = str(ho.status);
  const bits = [st === 'taken' ? `Taken by ${me && ho.agent === me.name ? 'you' : str(ho.agent) || 'an agent'}` :
    st === 'waiting' ? `Waiting since ${when(ho.since)}` : CLOSED_TEXT[st] || (st ? st[0].toUpperCase() + st.slice(1) : 'Handed off')];
  if (ho.reason) bits.push(reasonText(ho.reason));
  if (ho.after_hours) bits.push('after hours');
  if (ho.contact_email) bits.push(`contact: ${str(ho.contact_email)}`);
  return bits.join(' · ');
}
// A handoff is open while it waits for a person or one has it; the other statuses are the desk's closed ones.
const CLOSED_TEXT = { handed_back: 'Handed back to the bot', resolved: 'Resolved', cancelled: 'Cancelled by the shopper',
  elsewhere: 'Answered in Chatwoot' };
const handoffActive = ho => isObj(ho) && ['waiting', 'taken'].includes(str(ho.status));
const mine = () => !!conv && !!me && isObj(conv.handoff) && conv.handoff.status === 'taken' && conv.handoff.agent === me.name;

function renderConversation(toEnd) {
  const d = conv;
  $('conv-title').textContent = str(d.id || openId);
  $('conv-meta').textContent = `${str(d.channel) || 'unknown channel'} · ${langText(d.lang)} · started ${when(d.created_at) || 'unknown'} · ${handoffText(d.handoff)}`;
  if (mine()) $('take-force').hidden = true;
  updateActions();
  renderTranscript(d, toEnd);
}
// Buttons follow the conversation's state and the actions in flight.
function updateActions() {
  const ho = conv && conv.handoff, loaded = !!conv;
  const set = (role, off) => { $(role).disabled = busy.has(role) || !loaded || off; };
  set('take', mine());
  set('take-force', false);
  // a conversation another agent has is theirs to hand back or resolve (or an admin's)
  const theirs = isObj(ho) && ho.status === 'taken' && !mine() && !(me && me.role === 'admin');
  set('handback', !handoffActive(ho) || theirs);
  set('resolve', !handoffActive(ho) || theirs);
  set('suggest', false);
  set('reply-send', false);
  set('note-add', false);
  const holder = isObj(ho) && ho.status === 'taken' ? str(ho.agent) : '';
  $('reply-hint').textContent = !loaded || mine() ? '' : holder ? `(taken by ${holder}; take over to reply)` : '(take over to reply)';
}

// The transcript and the internal notes, in time order; the scroll position is kept.
function renderTranscript(d, toEnd) {
  const ol = $('transcript');
  const atEnd = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 60, top = ol.scrollTop;
  const items = list(d.transcript).filter(isObj).map((e, i) => ({ ts: millis(e.ts), i, node: () => entryEl(e, d) }));
  list(d.notes).filter(isObj).forEach((n, j) => items.push({ ts: millis(n.ts), i: items.length + j, node: () => noteEl(n) }));
  items.sort((a, b) => a.ts - b.ts || a.i - b.i);
  ol.replaceChildren(...items.map(x => x.node()));
  if (!items.length) ol.append(h('li.empty', { text: 'No messages yet.' }));
  ol.scrollTop = toEnd || atEnd ? ol.scrollHeight : top;
}
function entryEl(e, d) {
  const role = roleOf(e.role), m = isObj(e.message) ? e.message : {};
  const failed = isObj(d.failed) && e.id != null && isObj(d.failed[e.id]) ? d.failed[e.id] : null;
  return h(`li.entry.entry-${role}${failed ? '.entry-failed' : ''}`, { 'data-role': 'entry', 'data-from': role, 'data-id': str(e.id), 'data-failed': failed ? 'true' : null }, [
    h('div.entry-head', null, [h('span.entry-who', { text: whoText(role, e.agent) }), timeEl(e.ts)]),
    ...messageParts(m),
    failed && h('div.entry-fail', { 'data-role': 'failed', text: `Not delivered: ${str(failed.reason) || 'unknown reason'}${failed.at ? ` (${when(failed.at)})` : ''}` }),
    role === 'user' && traceEl(d.turns, e.client_id)
  ]);
}
// A message's text, then whatever else it carries (image, buttons, cards, sources, other fields) as plain text.
const KNOWN = ['text', 'image', 'buttons', 'cards', 'sources', 'abstained'];
function messageParts(m) {
  const extra = (label, value) => h('div.entry-extra', { text: `${label}: ${value}` });
  const titles = xs => list(xs).map(x => (isObj(x) ? str(x.title || x.payload) : str(x))).filter(Boolean).join(' · ');
  const parts = [typeof m.text === 'string' && m.text !== '' && h('div.entry-text', { 'data-role': 'entry-text', text: m.text })];
  if (m.image) parts.push(extra('Image', str(m.image)));
  if (titles(m.buttons)) parts.push(extra('Buttons', titles(m.buttons)));
  if (titles(m.cards)) parts.push(extra('Cards', titles(m.cards)));
  parts.push(sourcesEl(m.sources, 'Sources: '));
  if (m.abstained) parts.push(extra('Bot', 'abstained (no answer in the knowledge)'));
  for (const [k, v] of Object.entries(m)) {
    if (KNOWN.includes(k) || v == null || v === '') continue;
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(extra(k, s.length > 300 ? s.slice(0, 300) + '…' : s));
  }
  return parts;
}
// What the bot did with a shopper message: intent (confidence), actions, sources, abstained, sentiment.
function traceEl(turns, clientId) {
  const t = isObj(turns) && clientId != null ? turns[clientId] : null;
  if (!isObj(t)) return null;
  const names = xs => list(xs).map(x => (isObj(x) ? str(x.title || x.name || x.entity || x.id) : str(x))).filter(Boolean).join(', ');
  const bits = [];
  if (t.intent) bits.push(`intent ${str(isObj(t.intent) ? t.intent.name : t.intent)}${isNum(t.confidence) ? ` ${pct(t.confidence)}` : ''}`);
  const ents = list(t.entities).map(e => (isObj(e) && e.entity ? `${str(e.entity)}=${str(e.value)}` : isObj(e) ? JSON.stringify(e) : str(e))).filter(Boolean);
  if (ents.length) bits.push(`entities ${ents.join(', ')}`);
  if (names(t.actions)) bits.push(`actions ${names(t.actions)}`);
  if (names(t.sources)) bits.push(`sources ${names(t.sources)}`);
  if (t.abstained) bits.push('abstained');
  if (isObj(t.sentiment) && t.sentiment.label) bits.push(`sentiment ${str(t.sentiment.label)}${isNum(t.sentiment.score) ? ` ${t.sentiment.score.toFixed(2)}` : ''}`);
  return bits.length ? h('div.trace', { 'data-role': 'trace', text: bits.join(' · ') }) : null;
}
function noteEl(n) {
  return h('li.note', { 'data-role': 'note' }, [
    h('div.entry-head', null, [h('span.note-tag', { text: 'Internal' }), h('span.entry-who', { text: `Note by ${str(n.agent) || '?'}` }), timeEl(n.ts)]),
    h('div.note-text', { 'data-role': 'note-text', text: str(n.text) })
  ]);
}

// POST .../CID/<path> for the button with data-role `role`; the conversation is refetched after.
// Resolves to the answer, or null after an error (shown on the status line by api()).
async function act(role, path, body, okText) {
  const id = openId;
  busy.add(role);
  updateActions();
  try {
    const d = await api('POST', `conversations/${enc(id)}/${path}`, body);
    if (okText) setStatus(okText, 'ok');
    else clearError(); // an earlier error no longer holds
    if (id === openId) refreshConversation(true);
    return d;
  } catch (e) {
    if (!(e instanceof ApiError)) { console.error(e); setStatus('Something went wrong: ' + e.message, 'error'); }
    // 409 on Take over: another agent holds it; an admin may take it anyway.
    if (e.status === 409 && path === 'take' && me && me.role === 'admin' && id === openId) $('take-force').hidden = false;
    return null;
  } finally { busy.delete(role); updateActions(); }
}
async function take(force) {
  const id = openId;
  const d = await act(force ? 'take-force' : 'take', 'take', force ? { force: true } : undefined, 'You took over this conversation. The bot is silent.');
  if (d && id === openId) { $('take-force').hidden = true; $('reply-input').focus(); }
}
async function sendReply() {
  const input = $('reply-input'), text = input.value.trim(), id = openId;
  if (!text || busy.has('reply-send')) return;
  const d = await act('reply-send', 'reply', { text });
  if (d && id === openId) {
    if (input.value.trim() === text) input.value = ''; // unless edited meanwhile
    drafts.delete(id);
    clearSuggestion();
  }
}
async function addNote() {
  const input = $('note-input'), text = input.value.trim(), id = openId;
  if (!text) return;
  const d = await act('note-add', 'note', { text }, 'Note added.');
  if (d && id === openId && input.value.trim() === text) input.value = '';
}
async function suggest() {
  const id = openId, d = await act('suggest', 'suggest');
  if (!d || id !== openId) return;
  const box = $('suggestion');
  box.hidden = false;
  if (d.abstained || typeof d.text !== 'string' || !d.text.trim()) {
    box.setAttribute('data-abstained', 'true');
    box.replaceChildren(h('span', { text: 'No answer in the knowledge' }));
    return;
  }
  box.setAttribute('data-abstained', 'false');
  box.replaceChildren(sourcesEl(d.sources, 'Suggested draft, from: ') || h('span', { text: 'Suggested draft (no sources given).' }));
  const input = $('reply-input');
  input.value = d.text;
  input.focus();
  input.setSelectionRange(d.text.length, d.text.length);
}
function clearSuggestion() {
  const box = $('suggestion');
  box.hidden = true;
  box.replaceChildren();
}

// ---- canned responses: "/shortcut" then Tab (or Enter) in the reply box, or the picker
let canned = [];
async function loadCanned() {
  try { canned = list((await api('GET', 'canned')).canned).filter(c => isObj(c) && c.shortcut); } catch (e) { return; }
  renderPicker();
  if (view === 'admin') renderCannedAdmin();
}
// The "/word" right before the caret, or ''.
function tokenAtCaret() {
  const ta = $('reply-input');
  if (ta.selectionStart !== ta.selectionEnd) return '';
  const m = /(?:^|\s)(\/\S*)$/.exec(ta.value.slice(0, ta.selectionStart));
  return m ? m[1] : '';
}
// One response per shortcut: the conversation's language first, then any-language, then any.
function cannedFor(shortcut) {
  const all = canned.filter(c => str(c.shortcut).toLowerCase() === shortcut.toLowerCase());
  const lang = conv ? str(conv.lang) : '';
  return all.find(c => str(c.lang) === lang) || all.find(c => !c.lang) || all[0] || null;
}
// Puts a canned text in the reply box, replacing the "/word" at the caret if there is one.
function insertCanned(c) {
  const ta = $('reply-input'), tok = tokenAtCaret(), end = ta.selectionEnd;
  ta.setRangeText(str(c.text), tok ? end - tok.length : ta.selectionStart, end, 'end');
  ta.focus();
  renderPicker();
}
function expandShortcut() {
  const tok = tokenAtCaret(), c = tok && cannedFor(tok);
  if (!c) return false;
  insertCanned(c);
  return true;
}
let pickerAutoOpened = false;
// The picker lists the responses matching the "/word" being typed (all when none is).
function renderPicker() {
  const tok = tokenAtCaret().toLowerCase(), lang = conv ? str(conv.lang) : '';
  const shown = canned.filter(c => !tok || str(c.shortcut).toLowerCase().startsWith(tok))
    .sort((a, b) => (str(b.lang) === lang) - (str(a.lang) === lang) || str(a.shortcut).localeCompare(str(b.shortcut)));
  $('canned-picker').replaceChildren(...shown.map(c => h('li', null, [
    h('button.canned-item', { type: 'button', 'data-role': 'canned-item', 'data-shortcut': str(c.shortcut), onclick: () => insertCanned(c) }, [
      h('span.canned-key', { text: str(c.shortcut) }), c.lang && h('span.tag', { text: str(c.lang) }), h('span.canned-text', { text: str(c.text) })
    ])
  ])));
  if (!shown.length) $('canned-picker').append(h('li.muted', { text: canned.length ? 'No response starts with that shortcut.' : 'No canned responses yet.' }));
  // Typing a "/word" opens the picker; it closes again when the word is gone, if it opened itself.
  const details = $('canned');
  if (tok && shown.length && !details.open) { details.open = true; pickerAutoOpened = true; }
  else if (!tok && pickerAutoOpened) { details.open = false; pickerAutoOpened = false; }
}
function onReplyKey(e) {
  if (e.isComposing || e.keyCode === 229) return; // an IME (pinyin) is composing
  if ((e.key === 'Tab' || e.key === 'Enter') && !e.shiftKey && !e.altKey && !e.ctrlKey && expandShortcut()) return e.preventDefault();
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); sendReply(); }
}

// ---- search
async function search(e) {
  e.preventDefault();
  const p = new URLSearchParams();
  for (const [key, role] of [['q', 'search-text'], ['sender', 'search-sender'], ['channel', 'search-channel'], ['since', 'search-since'], ['until', 'search-until']]) {
    const v = $(role).value.trim();
    if (v) p.set(key, v);
  }
  p.set('limit', '50');
  const d = await run($('search-submit'), () => api('GET', 'conversations?' + p));
  if (!d) return;
  const found = list(d.conversations).filter(c => isObj(c) && c.id != null);
  $('search-count').textContent = found.length ? `${found.length} conversation${found.length > 1 ? 's' : ''}${found.length >= 50 ? ' (the newest 50)' : ''}` : 'No conversations found.';
  $('search-results').replaceChildren(...found.map(resultEl));
}
function resultEl(c) {
  const id = str(c.id);
  return h('li', { 'data-role': 'search-result', 'data-id': id }, [
    h('button.q-open', { type: 'button', onclick: () => openConversation(id) }, [
      h('span.q-line', null, [
        h('span.q-channel', { text: str(c.channel) || 'unknown channel' }), h('span.tag', { text: langText(c.lang) }),
        h('span.q-id', { text: id }), h('span.q-wait', { text: when(c.last_at || c.created_at) })
      ]),
      isObj(c.handoff) && h('span.q-line', null, [h('span.badge.badge-waiting', { text: handoffText(c.handoff) })]),
      c.preview && h('span.q-messages', null, [h('span.q-msg', { text: str(c.preview) })])
    ])
  ]);
}

// ---- summary
let metricsDays = 7, metricsSeq = 0;
async function loadMetrics(days = metricsDays) {
  metricsDays = days;
  $$('metrics-days').forEach(b => b.setAttribute('aria-pressed', String(Number(b.dataset.days) === days)));
  const seq = ++metricsSeq;
  let d;
  try { d = await api('GET', 'metrics?days=' + days); } catch (e) { return; }
  if (seq !== metricsSeq) return;
  $('metric-conversations').textContent = isNum(d.conversations) ? String(d.conversations) : '—';
  $('metric-bot-share').textContent = pct(d.resolved_by_bot_share);
  $('metric-handoffs').textContent = isNum(d.handoffs) ? String(d.handoffs) : '—';
  $('metric-median').textContent = isNum(d.median_first_response_s) ? duration(d.median_first_response_s) : 'no replies yet';
  renderReasons(isObj(d.handoffs_by_reason) ? d.handoffs_by_reason : {});
  renderDays(list(d.per_day).filter(isObj));
  renderGaps(list(d.knowledge_gaps).filter(isObj));
}
// Horizontal bars: a row per reason, the width relative to the largest.
function renderReasons(byReason) {
  const rowsData = Object.entries(byReason).map(([r, n]) => [r, Number(n) || 0]).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...rowsData.map(r => r[1]));
  const box = $('chart-reasons');
  box.replaceChildren(...rowsData.map(([r, n]) => {
    const fill = h('span.hbar-fill', { 'data-role': 'bar' });
    fill.style.width = `${(n / max) * 100}%`; // CSSOM: allowed under the CSP, unlike a style attribute
    return h('div.hbar', null, [h('span.hbar-label', { text: reasonText(r) }), h('span.hbar-track', null, [fill]), h('span.hbar-value', { text: String(n) })]);
  }));
  if (!rowsData.length) box.append(h('p.muted', { text: 'No handoffs in this period.' }));
}
// Vertical bars: a column per day, conversations and handoffs side by side.
function renderDays(days) {
  const max = Math.max(1, ...days.map(x => Math.max(Number(x.conversations) || 0, Number(x.handoffs) || 0)));
  const every = days.length > 10 ? Math.ceil(days.length / 6) : 1; // label every nth day
  const bar = (cls, n) => { const b = h(`span.vbar.${cls}`, { 'data-role': 'bar' }); b.style.height = `${(n / max) * 100}%`; return b; };
  const box = $('chart-days');
  box.replaceChildren(...days.map((x, i) => {
    const c = Number(x.conversations) || 0, ho = Number(x.handoffs) || 0, date = str(x.date);
    const label = `${date}: ${c} conversation${c === 1 ? '' : 's'}, ${ho} handoff${ho === 1 ? '' : 's'}`;
    return h('div.vday', { title: label }, [
      h('span.vbars-pair', { 'aria-hidden': 'true' }, [bar('vbar-conv', c), bar('vbar-hand', ho)]),
      h('span.vday-label', { 'aria-hidden': 'true', text: i % every === 0 ? date.slice(5) : '' }), // MM-DD
      h('span.sr', { text: label })
    ]);
  }));
  if (!days.length) box.append(h('p.muted', { text: 'No data for this period.' }));
}
function renderGaps(gaps) {
  const body = $('gaps').tBodies[0];
  body.replaceChildren(...gaps.map(g => h('tr', null, [h('td', { text: str(g.question) }), h('td.num', { text: str(g.count) })])));
  if (!gaps.length) body.append(h('tr', null, [h('td.muted', { colspan: '2', text: 'No unanswered questions in this period.' })]));
}

// ---- admin
function loadAdmin() {
  loadAgents();
  loadCanned();
}
// A destructive button asks again: the first click turns it into "Confirm", for 5 s.
function confirmClick(btn, label, fn) {
  if (btn.getAttribute('data-confirm') !== 'true') {
    btn.setAttribute('data-confirm', 'true');
    btn.textContent = 'Confirm';
    setTimeout(() => { btn.removeAttribute('data-confirm'); btn.textContent = label; }, 5000);
    return;
  }
  run(btn, fn);
}
async function loadAgents() {
  let d;
  try { d = await api('GET', 'agents'); } catch (e) { return; }
  const body = $('agents').tBodies[0];
  body.replaceChildren(...list(d.agents).filter(isObj).map(a => {
    const name = str(a.name);
    const del = h('button.quiet.danger', { type: 'button', 'data-role': 'agent-remove', text: 'Remove', 'aria-label': `Remove ${name}`, disabled: name === me.name });
    del.addEventListener('click', () => confirmClick(del, 'Remove', async () => {
      await api('DELETE', 'agents/' + enc(name));
      setStatus(`Agent ${name} removed.`, 'ok');
      loadAgents();
    }));
    return h('tr', { 'data-role': 'agent', 'data-name': name }, [h('td', { text: name }), h('td', { text: str(a.role) }), h('td', { text: when(a.created_at) }), h('td.num', null, [del])]);
  }));
}
async function addAgent(e) {
  e.preventDefault();
  const name = $('agent-add-name').value.trim(), password = $('agent-add-password').value, role = $('agent-add-role').value;
  if (!name || !password) return setStatus('An agent needs a name and a password.', 'error');
  const d = await run($('agent-add'), () => api('POST', 'agents', { name, password, role }));
  if (!d) return;
  $('agent-add-name').value = $('agent-add-password').value = '';
  setStatus(`Agent ${name} added.`, 'ok');
  loadAgents();
}
function renderCannedAdmin() {
  const body = $('canned-admin').tBodies[0];
  body.replaceChildren(...canned.map(c => {
    const key = str(c.shortcut);
    const del = h('button.quiet.danger', { type: 'button', 'data-role': 'canned-remove', text: 'Remove', 'aria-label': `Remove ${key}` });
    del.addEventListener('click', () => confirmClick(del, 'Remove', async () => {
      await api('DELETE', 'canned/' + enc(key)); // "/refund" travels as %2Frefund
      setStatus(`Canned response ${key} removed.`, 'ok');
      loadCanned();
    }));
    return h('tr', { 'data-role': 'canned-row', 'data-shortcut': key }, [h('td.mono', { text: key }), h('td', { text: c.lang ? langText(c.lang) : 'any' }), h('td.pre.wide', { text: str(c.text) }), h('td.num', null, [del])]);
  }));
}
async function addCanned(e) {
  e.preventDefault();
  let shortcut = $('canned-add-shortcut').value.trim();
  const text = $('canned-add-text').value.trim(), lang = $('canned-add-lang').value;
  if (shortcut && !shortcut.startsWith('/')) shortcut = '/' + shortcut;
  if (!/^\/\S+$/.test(shortcut) || !text) return setStatus('A canned response needs a shortcut like /refund (no spaces) and a text.', 'error');
  const d = await run($('canned-add'), () => api('POST', 'canned', { shortcut, text, lang }));
  if (!d) return;
  $('canned-add-shortcut').value = $('canned-add-text').value = '';
  setStatus(`Canned response ${shortcut} added.`, 'ok');
  loadCanned();
}

// ---- start
function wire() {
  $('login-form').addEventListener('submit', login);
  $('login-name').addEventListener('input', () => {
    if (lockTimer && $('login-name').value.trim() !== lockedName) unlockLogin();
  });
  $('logout').addEventListener('click', logout);
  for (const v of VIEWS) $('nav-' + v).addEventListener('click', () => showView(v));
  addEventListener('hashchange', () => me && showView(location.hash.slice(1)));
  $('conversation-close').addEventListener('click', closeConversation);
  $('take').addEventListener('click', () => take(false));
  $('take-force').addEventListener('click', () => take(true));
  $('handback').addEventListener('click', () => act('handback', 'handback', undefined, 'Handed back to the bot.'));
  $('resolve').addEventListener('click', () => act('resolve', 'resolve', undefined, 'Resolved.'));
  $('suggest').addEventListener('click', suggest);
  $('reply-form').addEventListener('submit', e => { e.preventDefault(); sendReply(); });
  $('reply-input').addEventListener('keydown', onReplyKey);
  for (const ev of ['input', 'click', 'keyup']) $('reply-input').addEventListener(ev, renderPicker);
  $('canned').addEventListener('toggle', () => { if (!$('canned').open) pickerAutoOpened = false; });
  $('note-form').addEventListener('submit', e => { e.preventDefault(); addNote(); });
  $('search-form').addEventListener('submit', search);
  $$('metrics-days').forEach(b => b.addEventListener('click', () => loadMetrics(Number(b.dataset.days))));
  $('agent-form').addEventListener('submit', addAgent);
  $('canned-form').addEventListener('submit', addCanned);
  setInterval(tick, 1000);
  // Back online or in view again: the socket may have died quietly, and frames may be missing.
  const wake = () => { if (!me) return; live.wake(); loadQueue(); if (openId) refreshConversation(); };
  addEventListener('online', wake);
  document.addEventListener('visibilitychange', () => document.hidden || wake());
}
async function boot() {
  wire();
  try {
    signedIn(await api('GET', 'me', undefined, { quiet: true }));
  } catch (e) {
    showLogin(e.status === 401 ? '' : e.message);
  }
}
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot); else boot();
})();
