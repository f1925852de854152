/* shopkeep chat widget: plain JavaScript, no dependencies. Options (data- attributes) and protocol:
 * README.md, "Website widget". Server and shopper text only ever goes through textContent. */
(() => {
'use strict';
if (window.ShopkeepWidget) return; // the tag was included twice

// ---- options
const script = document.currentScript ||
  [...document.getElementsByTagName('script')].reverse().find(s => /widget\.js$/.test((s.src || '').split(/[?#]/)[0]));
const opt = name => {
  const v = script && script.getAttribute('data-' + name);
  return v == null || !v.trim() ? null : v.trim();
};
const httpUrl = u => {
  try { const x = new URL(u, location.href); return /^https?:$/.test(x.protocol) ? x : null; } catch (e) { return null; }
};
const srcUrl = script && script.src ? httpUrl(script.src) : null;
const serverUrl = httpUrl(opt('server') || (srcUrl || location).origin) || httpUrl(location.origin);
const server = serverUrl.href.replace(/[?#].*$/, '').replace(/\/+$/, '');
const wsUrl = server.replace(/^http/i, 'ws') + '/widget/ws';
const KEY = 'shopkeep:' + server;

// An option's value if ok(value); an invalid one is ignored (with a warning).
function valid(name, ok, v = opt(name)) {
  if (v == null || ok(v)) return v;
  console.warn(`shopkeep widget: ignoring data-${name}=${v}`);
}
const isColor = v => CSS.supports('color', v);
const accent = valid('color', isColor) || '#2f5d50';
const lightAccent = brightness(accent) > 170;
const onAccent = valid('text-color', isColor) || (lightAccent ? '#15191d' : '#fff');
const zIndex = valid('z-index', v => /^-?\d{1,10}$/.test(v)) || '2147483000';
const langOpt = (valid('lang', v => /^(en|zh|auto)$/i.test(v)) || 'auto').toLowerCase();
const left = /^left$/i.test(valid('position', v => /^(left|right)$/i.test(v)));

// Perceived brightness (0..255) of a CSS colour (a canvas normalises it to #rrggbb or rgba()).
function brightness(c) {
  try {
    const g = document.createElement('canvas').getContext('2d');
    g.fillStyle = c;
    const m = /^#(..)(..)(..)$/.exec(g.fillStyle), [r, gr, b] = m ? m.slice(1).map(x => parseInt(x, 16)) : g.fillStyle.match(/[\d.]+/g);
    return 0.299 * r + 0.587 * gr + 0.114 * b;
  } catch (e) { return 0; }
}

// ---- UI strings
const STR = {
  en: {
    open: 'Open chat', close: 'Close chat', title: 'Chat with us', placeholder: 'Type your message…',
    send: 'Send', label: 'Your message', log: 'Conversation', typing: 'The assistant is typing',
    reconnecting: 'Reconnecting…', retrying: 'Not sent — retrying', view: 'View product',
    source: 'Source: ', tooLong: 'Message too long — not sent', failed: 'Not sent',
    refused: 'Chat is not available on this site.', inStock: 'In stock', outStock: 'Out of stock',
    person: 'Our team'
  },
  zh: {
    open: '打开聊天', close: '关闭聊天', title: '在线客服', placeholder: '输入您的问题…',
    send: '发送', label: '您的消息', log: '对话', typing: '助手正在输入',
    reconnecting: '正在重新连接…', retrying: '未发送，正在重试', view: '查看商品',
    source: '来源：', tooLong: '消息过长，未发送', failed: '未发送',
    refused: '本网站暂不支持在线客服。', inStock: '有货', outStock: '缺货'
  }
};
const pageLang = () => (/^zh/i.test(document.documentElement.lang || navigator.language) ? 'zh' : 'en');
let lang = langOpt === 'auto' ? pageLang() : langOpt;
const news = n => (lang === 'zh' ? `${n} 条新消息` : `${n} new message${n > 1 ? 's' : ''}`);
function t(key) {
  const zh = lang === 'zh', s = STR[lang];
  if (key === 'title') return (zh && opt('title-zh')) || opt('title') || s.title;
  if (key === 'greeting') return (zh && opt('greeting-zh')) || opt('greeting') || opt('greeting-zh') || '';
  if (key === 'open' && unread) return s.open + (zh ? `（${news(unread)}）` : ` (${news(unread)})`);
  return s[key];
}
// Elements with data-i18n="key" or "key:attribute" are relabelled when the language changes.
function i18n(el, spec) { el.setAttribute('data-i18n', spec); relabel(el); return el; }
function relabel(el) {
  const [key, attr] = el.getAttribute('data-i18n').split(':');
  if (attr) el.setAttribute(attr, t(key)); else el.textContent = t(key);
}
function setLang(l) {
  if (l === lang) return;
  lang = l;
  root.lang = l === 'zh' ? 'zh-CN' : 'en';
  root.querySelectorAll('[data-i18n]').forEach(relabel);
}

// ---- storage: token, conversation id, last entry id shown, pending messages
let mem = {}; // used when localStorage is blocked
function load() {
  try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return mem; }
}
const str = v => (typeof v === 'string' ? v : v == null ? '' : String(v));
const isObj = v => !!v && typeof v === 'object';
const saved = load();
let st = {
  token: str(saved.token), conversationId: str(saved.conversationId), lastId: str(saved.lastId),
  pending: (Array.isArray(saved.pending) ? saved.pending : []).filter(p => p && typeof p.client_id === 'string' && typeof p.text === 'string')
};
function save() {
  mem = st;
  try { localStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* memory only */ }
}

// ---- helpers
// h('div.a.b', attributes, children): "text" sets textContent, "on..." adds a listener.
function h(tag, attrs, kids) {
  const [name, ...cls] = tag.split('.');
  const el = /^(svg|path)$/.test(name) ? document.createElementNS('http://www.w3.org/2000/svg', name) : document.createElement(name);
  if (cls[0]) el.setAttribute('class', cls.join(' '));
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids || []) if (c) el.append(c);
  return el;
}
// Links: http(s) or relative to the bot server only; images may also be data:image/.
function safeUrl(u, image) {
  if (typeof u !== 'string' || !(u = u.trim())) return null;
  if (image && /^data:image\/(?!svg)/i.test(u)) return u;
  if (/^\/\/|[\u0000-\u001f]/.test(u) || (/^[a-z][a-z0-9+.-]*:/i.test(u) && !/^https?:/i.test(u))) return null;
  try { const x = new URL(u, server + '/'); return /^https?:$/.test(x.protocol) ? x.href : null; } catch (e) { return null; }
}
// A v4 UUID (crypto.randomUUID exists only on https and localhost).
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : '10000000-1000-4000-8000-100000000000'
  .replace(/[018]/g, c => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));
// Entry ids are "<ms>-<seq>": true when a is newer than b.
const pad = id => id.replace(/\d+/g, d => d.padStart(20, '0'));
const newer = (a, b) => pad(a) > pad(b);

// ---- styles: "&" is the root, as in CSS nesting
const CSS_TEXT = `
&{all:initial;--skw-accent:${accent};--skw-on-accent:${onAccent};--skw-link:${lightAccent ? '#1d2329' : 'var(--skw-accent)'};
 color:#1d2329;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
& *{box-sizing:border-box;margin:0;padding:0;letter-spacing:normal;text-transform:none}
& [hidden]{display:none!important}
& button{font:inherit;color:inherit;background:none;border:0;cursor:pointer;width:auto;height:auto;box-shadow:none}
& :focus-visible{outline:3px solid var(--skw-link);outline-offset:2px}
& .skw-header :focus-visible{outline-color:var(--skw-on-accent);outline-offset:0}
& .skw-panel,& .skw-log,& .skw-msg,& .skw-cards,& .skw-card-body{display:flex;flex-direction:column}
& .skw-sr{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
& .skw-launcher,& .skw-header,& .skw-msg[data-from=user] .skw-bubble,& .skw-quick button:hover,& .skw-send{background:var(--skw-accent);color:var(--skw-on-accent)}
& .skw-launcher,& .skw-panel{position:fixed;z-index:${zIndex};right:20px}
& .skw-launcher{bottom:20px;width:60px;height:60px;border-radius:50%;display:grid;
 place-items:center;box-shadow:0 6px 20px rgba(0,0,0,.28)}
& .skw-launcher svg{width:28px;height:28px;fill:currentColor}
& .skw-badge{position:absolute;top:-3px;right:-3px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;
 background:#c5221f;color:#fff;box-shadow:0 0 0 2px #fff;font-size:12px;font-weight:700;line-height:22px}
& .skw-i-close,&.skw-open .skw-i-chat{display:none}
&.skw-open .skw-i-close{display:block}
& .skw-panel{bottom:92px;width:380px;max-width:calc(100vw - 40px);height:600px;
 max-height:calc(100vh - 112px);max-height:calc(100dvh - 112px);background:#fff;border-radius:16px;
 box-shadow:0 12px 48px rgba(0,0,0,.28);overflow:hidden}
&.skw-left .skw-launcher,&.skw-left .skw-panel{right:auto;left:20px}
& .skw-header{display:flex;align-items:center;gap:8px;padding:12px 10px 12px 18px}
& .skw-title{flex:1;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
& .skw-close{width:36px;height:36px;border-radius:8px;font-size:24px;line-height:36px}
& .skw-status{padding:6px 12px;background:#fff4d1;color:#5b4300;font-size:13px;text-align:center}
& .skw-log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:16px 14px 8px;gap:10px}
& .skw-msg{max-width:86%;align-self:flex-start;align-items:flex-start;gap:6px}
& .skw-msg[data-from=user]{align-self:flex-end;align-items:flex-end}
& .skw-bubble{padding:9px 13px;border-radius:16px 16px 16px 4px;background:#f1f3f4;white-space:pre-wrap;overflow-wrap:anywhere}
& .skw-msg[data-from=user] .skw-bubble{border-radius:16px 16px 4px 16px}
& .skw-msg[data-from=agent] .skw-bubble{background:#e8f0fe}
& .skw-who{font-size:11px;color:#5f6368;margin:0 0 2px 4px}
& .skw-abstained .skw-bubble{background:#f7f3ea}
& :is(.skw-pending,.skw-failed) .skw-bubble{opacity:.65}
& .skw-note,& .skw-card-sub,& .skw-sources{font-size:12px;color:#5c6670}
& .skw-failed .skw-note,& .skw-out{color:#b3261e}
& .skw-image{max-width:100%;border-radius:12px}
& .skw-cards{gap:8px}
& .skw-card{display:flex;gap:10px;align-items:center;width:260px;max-width:100%;padding:8px;border:1px solid #d9dee3;border-radius:12px;background:#fff}
& .skw-card img{width:72px;height:72px;flex:none;object-fit:cover;border-radius:8px;background:#f4f4f4}
& .skw-card-body{gap:1px;min-width:0}
& .skw-card-sub{font-size:13px}
& .skw-card-title,& .skw-price{font-weight:600}
& a{color:var(--skw-link);text-decoration:underline;cursor:pointer}
& .skw-sources{font-size:12.5px}
& .skw-quick{display:flex;flex-wrap:wrap;gap:6px}
& .skw-quick button{padding:6px 12px;border:1.5px solid var(--skw-accent);border-radius:16px;background:#fff;color:#1d2329;font-size:14px}
& .skw-dots{display:inline-flex;gap:4px;padding:11px 13px;border-radius:16px;background:#f1f3f4}
& .skw-dots i{width:7px;height:7px;border-radius:50%;background:#89939c;animation:skw-dot 1.2s infinite ease-in-out}
& .skw-dots i:nth-child(2){animation-delay:.15s}
& .skw-dots i:nth-child(3){animation-delay:.3s}
@keyframes skw-dot{30%{transform:translateY(-4px);opacity:1}0%,60%,100%{opacity:.5}}
& .skw-form{display:flex;align-items:flex-end;gap:8px;padding:10px 12px;border-top:1px solid #d9dee3;background:#fff}
& .skw-input{flex:1;display:block;min-height:40px;max-height:120px;resize:none;padding:9px 12px;border:1px solid #d9dee3;
 border-radius:12px;background:#fff;color:#1d2329;font:inherit;font-size:15px;line-height:20px}
& .skw-input:focus-visible{outline:2px solid var(--skw-link);outline-offset:0;border-color:transparent}
& .skw-send{height:40px;padding:0 16px;border-radius:12px;font-weight:600}
@media (max-width:479.98px){
 & .skw-panel{inset:0;width:100%;max-width:none;height:100vh;height:100dvh;max-height:none;border-radius:0}
 &.skw-open .skw-launcher{display:none}
 & .skw-input{font-size:16px}
 & .skw-form{padding-bottom:calc(10px + env(safe-area-inset-bottom,0px))}}
@media (prefers-reduced-motion:reduce){& .skw-dots i{animation:none}}`.replace(/&/g, '.skw-root');

// ---- DOM
let root, launcher, badge, notice, panel, statusEl, log, typing, input;
const icon = (cls, d) => h('svg.' + cls, { viewBox: '0 0 24 24', 'aria-hidden': 'true' }, [h('path', { d })]);
function build() {
  const inputId = 'skw-' + uuid();
  document.head.append(h('style', { text: CSS_TEXT }));
  launcher = i18n(h('button.skw-launcher', { 'data-role': 'launcher', 'aria-expanded': 'false', onclick: () => (isOpen ? close() : open()) }, [
    icon('skw-i-chat', 'M12 3C6.5 3 2 6.6 2 11c0 2.4 1.3 4.5 3.4 6L4 21l4.6-2.3c1.1.3 2.2.5 3.4.5 5.5 0 10-3.6 10-8s-4.5-8-10-8z'),
    icon('skw-i-close', 'M7 9.5l5 5 5-5 1.4 1.4-6.4 6.4-6.4-6.4z'),
    badge = h('span.skw-badge', { 'data-role': 'badge', 'aria-hidden': 'true', hidden: true })
  ]), 'open:aria-label');
  input = i18n(h('textarea.skw-input', { id: inputId, 'data-role': 'input', rows: '1', maxlength: '2000', enterkeyhint: 'send', onkeydown: onInputKey, oninput: autosize }), 'placeholder:placeholder');
  panel = i18n(h('div.skw-panel', { role: 'dialog', 'data-role': 'panel', hidden: true }, [
    h('div.skw-header', null, [
      i18n(h('div.skw-title'), 'title'),
      i18n(h('button.skw-close', { 'data-role': 'close', text: '×', onclick: () => close(true) }), 'close:aria-label')
    ]),
    statusEl = i18n(h('div.skw-status', { role: 'status', 'data-role': 'status', hidden: true }), 'reconnecting'),
    log = i18n(h('div.skw-log', { role: 'log', 'aria-live': 'polite', tabindex: '0', 'data-role': 'log' }, [
      typing = h('div.skw-typing', { 'data-role': 'typing', hidden: true }, [ // always the last child
        h('span.skw-dots', { 'aria-hidden': 'true' }, [h('i'), h('i'), h('i')]),
        i18n(h('span.skw-sr'), 'typing')
      ])
    ]), 'log:aria-label'),
    h('form.skw-form', { onsubmit: e => { e.preventDefault(); submit(); } }, [
      i18n(h('label.skw-sr', { for: inputId }), 'label'),
      input,
      i18n(h('button.skw-send', { type: 'submit', 'data-role': 'send' }), 'send')
    ])
  ]), 'title:aria-label');
  notice = h('div.skw-sr', { role: 'status' }); // announces new messages to a closed panel
  root = h(left ? 'div.skw-root.skw-left' : 'div.skw-root', { 'data-shopkeep-widget': true, lang: lang === 'zh' ? 'zh-CN' : 'en', onkeydown: onKey }, [launcher, notice, panel]);
  if (t('greeting')) { // shown locally, never sent
    log.prepend(h('div.skw-msg', { 'data-role': 'message', 'data-from': 'bot', 'data-greeting': true }, [
      i18n(h('div.skw-bubble', { 'data-role': 'text' }), 'greeting')
    ]));
  }
}

// ---- panel
let isOpen = false, unread = 0;
const phone = matchMedia('(max-width:479.98px)'); // full screen: modal
function show(on, focusLauncher) {
  if (on === isOpen) return;
  const inside = panel.contains(document.activeElement);
  isOpen = on;
  panel.hidden = !on;
  root.classList.toggle('skw-open', on);
  launcher.setAttribute('aria-expanded', on);
  if (!on) return (focusLauncher || inside) && launcher.focus();
  panel.setAttribute('aria-modal', phone.matches);
  setUnread(0);
  log.scrollTop = log.scrollHeight;
  input.focus({ preventScroll: true });
  if (!started) connect();
}
const open = () => show(true), close = focus => show(false, focus);
function setUnread(n) { // new bot and agent entries while the panel is closed
  unread = n;
  badge.textContent = n;
  badge.hidden = !n;
  notice.textContent = n ? news(n) : '';
  relabel(launcher);
}
function onKey(e) {
  if (e.key === 'Escape' && isOpen) { e.stopPropagation(); close(true); }
}
// On a phone (a full-screen panel) Tab and Shift+Tab cycle inside the open panel.
function trap(e) {
  if (e.key !== 'Tab' || !isOpen || !phone.matches) return;
  const all = [...panel.querySelectorAll('a,button,textarea,[tabindex]')].filter(el => el.getClientRects().length);
  const a = document.activeElement, ends = [all[0], all[all.length - 1]], [to, from] = e.shiftKey ? ends.reverse() : ends;
  if (!panel.contains(a) || a === from) { e.preventDefault(); to.focus(); }
}
function onInputKey(e) {
  // Enter sends, Shift+Enter is a newline; not while an IME (pinyin) is composing.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
}
function autosize() {
  input.style.height = 'auto';
  input.style.height = Math.min(input.scrollHeight + 2, 120) + 'px';
}
function submit() {
  if (send(input.value)) { input.value = ''; autosize(); }
}
const nearBottom = (px = 80) => log.scrollHeight - log.scrollTop - log.clientHeight < px;
const stick = was => { if (was) log.scrollTop = log.scrollHeight; };

// ---- messages
const shown = new Set(); // entry ids in the log
const bubbles = new Map(); // client_id -> optimistic user bubble, until its entry arrives
const provisional = new Map(); // reply_to -> streaming bot bubble
const answered = new Set(); // reply_to values with a bot entry (later partials are dropped)
const retryTimers = new Map(); // client_id -> timer of a 429/503 retry
const unretry = cid => { clearTimeout(retryTimers.get(cid)); retryTimers.delete(cid); };
let pageLast = ''; // newest entry id shown on this page: `after` when reconnecting

function msgNode(role, m, attrs) {
  const img = safeUrl(m.image, true);
  return h(m.abstained ? 'div.skw-msg.skw-abstained' : 'div.skw-msg', { 'data-role': 'message', 'data-from': role, ...attrs }, [
    role === 'agent' && i18n(h('div.skw-who', { 'data-role': 'who' }), 'person'), // a person wrote this, not the bot
    (role === 'user' || (typeof m.text === 'string' && m.text)) && h('div.skw-bubble', { 'data-role': 'text', text: str(m.text) }),
    img && h('img.skw-image', { src: img, alt: '', onload: onImage }),
    Array.isArray(m.cards) && m.cards.length && h('div.skw-cards', null, m.cards.map(card)),
    Array.isArray(m.sources) && sources(m.sources),
    Array.isArray(m.buttons) && quickReplies(m.buttons)
  ]);
}
const onImage = () => stick(nearBottom(250));
const link = (url, text) => h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text });
function price(c) {
  if (c.price == null || c.price === '') return '';
  const n = Number(c.price), cur = str(c.currency);
  try {
    if (isFinite(n) && /^[a-z]{3}$/i.test(cur)) return new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-US', { style: 'currency', currency: cur }).format(n);
  } catch (e) { /* unknown currency code */ }
  return `${c.price} ${cur}`.trim();
}
function card(c) {
  if (!isObj(c)) return null;
  const img = safeUrl(c.image, true), url = safeUrl(c.url), p = price(c);
  return h('div.skw-card', { 'data-role': 'card' }, [
    img && h('img', { src: img, alt: '', loading: 'lazy', onload: onImage }),
    h('div.skw-card-body', null, [
      h('div.skw-card-title', { text: str(c.title) }),
      typeof c.in_stock === 'boolean'
        ? i18n(h(c.in_stock ? 'div.skw-card-sub' : 'div.skw-card-sub.skw-out', { 'data-role': 'stock' }), c.in_stock ? 'inStock' : 'outStock')
        : c.subtitle && h('div.skw-card-sub', { text: str(c.subtitle) }),
      p && h('div.skw-price', { text: p }),
      url && i18n(link(url, ''), 'view')
    ])
  ]);
}
// "Source: <title> · <title>", links where the source has a url.
function sources(list) {
  const box = h('div.skw-sources', { 'data-role': 'sources' }, [i18n(h('span'), 'source')]);
  let n = 0;
  for (const s of list) {
    const title = isObj(s) ? str(s.title || s.id) : '';
    if (!title) continue;
    if (n++) box.append(' · ');
    const url = safeUrl(s.url), el = url ? link(url, title) : h('span', { text: title });
    el.setAttribute('data-role', 'source');
    box.append(el);
  }
  return n ? box : null;
}
function quickReplies(list) {
  const box = h('div.skw-quick', { role: 'group', 'data-role': 'quick-replies' });
  for (const b of list) {
    if (!isObj(b)) continue;
    const title = str(b.title || b.payload), payload = str(b.payload || b.title);
    if (!title.trim()) continue;
    box.append(h('button', { 'data-role': 'quick-reply', text: title, onclick: () => {
      send(payload, title);
      input.focus({ preventScroll: true });
    } }));
  }
  return box.children.length ? box : null;
}
// Once the shopper sends anything, earlier quick replies go away.
const hideQuickReplies = (el = log) => el.querySelectorAll('.skw-quick').forEach(q => { q.hidden = true; });
// Transcript entries go before the unconfirmed optimistic bubbles.
const place = node => log.insertBefore(node, log.querySelector(':scope > .skw-pending') || typing);
function setNote(node, text, key) {
  const b = nearBottom(), old = node.querySelector('.skw-note');
  if (old) old.remove();
  if (!text && !key) return;
  const n = h('div.skw-note', { 'data-role': 'note', text });
  node.append(key ? i18n(n, key) : n);
  stick(b);
}

// ---- sending
function send(text, display) {
  text = str(text).trim();
  if (!text) return null;
  const p = { client_id: uuid(), text };
  if (display && display !== text) p.display = str(display);
  st.pending.push(p);
  save();
  hideQuickReplies();
  addBubble(p);
  if (!started) connect(); else transmit(p);
  return p.client_id;
}
function addBubble(p) {
  const node = msgNode('user', { text: p.display || p.text }, { 'data-client-id': p.client_id, 'data-status': 'pending' });
  node.classList.add('skw-pending');
  bubbles.set(p.client_id, node);
  log.insertBefore(node, typing);
  log.scrollTop = log.scrollHeight;
}
function frame(obj) {
  if (!welcomed || ws.readyState !== 1) return false;
  ws.send(JSON.stringify(obj));
  return true;
}
// data-customer-token: the store page's signed token for a logged-in shopper (README, "Orders ...").
const customerToken = opt('customer-token');
function transmit(p) {
  const extra = customerToken ? { metadata: { customer_token: customerToken } } : {};
  if (frame({ type: 'message', ...p, ...extra })) { lastSent = p.client_id; ping(); }
}
// A ping after each message and every 25 s (the server answers at once, even mid-turn):
// no frame at all back within 6 s means a dead socket.
function ping() {
  const sock = ws, n = rx;
  if (frame({ type: 'ping' })) setTimeout(() => ws === sock && rx === n && kill(), 6000);
}
function unpend(cid) {
  st.pending = st.pending.filter(p => p.client_id !== cid);
  unretry(cid);
  save();
}
function fail(cid, text) { // 400/413 (or 1009): the message stays, with the error under it
  unpend(cid);
  const node = bubbles.get(cid);
  if (!node) return;
  bubbles.delete(cid);
  node.classList.replace('skw-pending', 'skw-failed');
  node.setAttribute('data-status', 'failed');
  setNote(node, text, text ? null : 'failed');
}

// ---- frames from the server
function onFrame(data) {
  let f;
  try { f = JSON.parse(data); } catch (e) { return; }
  if (!isObj(f)) return;
  if (f.type === 'welcome') onWelcome(f);
  else if (f.type === 'entry') onEntry(f);
  else if (f.type === 'typing') { const b = nearBottom(); typing.hidden = !f.on; stick(b); }
  else if (f.type === 'partial') onPartial(f);
  else if (f.type === 'error') onError(f);
}
function onWelcome(f) {
  welcomed = true;
  attempt = 0;
  statusEl.hidden = true;
  if (f.token) st.token = str(f.token);
  const cid = str(f.conversation_id);
  if (st.conversationId && cid !== st.conversationId) newConversation();
  st.conversationId = cid;
  save();
  clearInterval(pingTimer);
  pingTimer = setInterval(ping, 25000);
  // Resend unconfirmed messages, same client_id (the server handles each once).
  for (const p of st.pending) { unretry(p.client_id); transmit(p); }
}
// A new conversation (the old token was refused): clear the transcript.
function newConversation() {
  for (const n of [...log.children]) if (!n.matches('.skw-pending, [data-greeting], .skw-typing')) n.remove();
  shown.clear(); provisional.clear(); answered.clear();
  pageLast = st.lastId = '';
}
function onEntry(f) {
  const id = str(f.id);
  if (!id || shown.has(id)) return;
  shown.add(id);
  let b = nearBottom(), node;
  const role = f.role === 'user' || f.role === 'agent' ? f.role : 'bot';
  const m = isObj(f.message) ? f.message : {};
  const cid = str(f.client_id);
  if (role === 'user') {
    node = cid && bubbles.get(cid);
    if (node) { // the receipt of an optimistic bubble: that bubble becomes this entry
      bubbles.delete(cid);
      node.classList.remove('skw-pending');
      node.removeAttribute('data-status');
      if (m.text) node.querySelector('[data-role=text]').textContent = str(m.text);
      setNote(node);
      node.remove();
    } else {
      node = msgNode('user', m, { 'data-client-id': cid || null });
    }
    if (cid) unpend(cid);
    hideQuickReplies();
    b = true;
  } else {
    node = msgNode(role, m);
    typing.hidden = true;
    if (newer(id, st.lastId)) { // not shown (nor acknowledged) on an earlier page
      frame({ type: 'ack', id });
      if (!isOpen) setUnread(unread + 1);
    }
  }
  node.setAttribute('data-entry-id', id);
  const rt = role === 'bot' && str(f.reply_to), prov = rt && provisional.get(rt);
  if (rt) answered.add(rt);
  if (prov) { provisional.delete(rt); prov.replaceWith(node); } else place(node);
  if (node.nextElementSibling !== typing) hideQuickReplies(node); // the shopper already wrote after it
  if (newer(id, pageLast)) pageLast = id;
  if (newer(id, st.lastId)) { st.lastId = id; save(); }
  stick(b);
}
function onPartial(f) {
  const rt = str(f.reply_to), text = str(f.text).trim();
  if (!rt || !text || answered.has(rt)) return;
  const b = nearBottom();
  let node = provisional.get(rt);
  if (!node) {
    node = h('div.skw-msg', { 'data-role': 'message', 'data-from': 'bot', 'data-provisional': true, 'data-reply-to': rt },
      [h('div.skw-bubble', { 'data-role': 'text' })]);
    provisional.set(rt, node);
    place(node);
  }
  const el = node.firstChild, prev = el.textContent;
  el.textContent = prev + (prev && !/[\u3000-\u9fff\uff00-\uffef]$/.test(prev) ? ' ' : '') + text; // no space after Chinese
  stick(b);
}
function onError(f) {
  const cid = str(f.client_id), status = Number(f.status), p = st.pending.find(x => x.client_id === cid);
  if (!cid) return console.warn('shopkeep widget:', status, f.error);
  const node = log.querySelector(`[data-client-id="${CSS.escape(cid)}"]`);
  if (!p) return node && setNote(node, str(f.error)); // processed already: its reply failed
  if (status !== 429 && status !== 503) return fail(cid, str(f.error));
  if (node) setNote(node, '', 'retrying'); // resend the same message later
  unretry(cid);
  retryTimers.set(cid, setTimeout(() => {
    retryTimers.delete(cid);
    if (st.pending.includes(p)) transmit(p);
  }, (+f.retry_after_s > 0 ? +f.retry_after_s : 2) * 1000));
}

// ---- the socket
let ws = null, welcomed = false, started = false, refused = false, attempt = 0, timer = null, pingTimer = null, rx = 0, lastSent = null;
function connect() {
  clearTimeout(timer);
  timer = null;
  if (ws || refused) return;
  started = true;
  const s = load(); // another tab may hold a newer token
  if (typeof s.token === 'string') st.token = s.token;
  const withToken = !!st.token;
  let sock;
  try {
    sock = new WebSocket(`${wsUrl}?token=${encodeURIComponent(st.token)}&after=${encodeURIComponent(pageLast)}&lang=${lang}`);
  } catch (e) { statusEl.hidden = false; return retry(); }
  ws = sock;
  welcomed = false;
  sock.onmessage = ev => { if (sock === ws) { rx++; onFrame(ev.data); } };
  sock.onclose = ev => closed(sock, ev.code, withToken);
}
function closed(sock, code, withToken) {
  if (sock !== ws) return;
  const hadWelcome = welcomed;
  ws = null;
  welcomed = false;
  clearInterval(pingTimer);
  typing.hidden = true;
  statusEl.hidden = false;
  if (code === 1009 && bubbles.has(lastSent)) fail(lastSent, t('tooLong')); // resending it would loop
  if (code === 4401 && withToken) { forgetToken(); attempt = 0; return connect(); }
  if (hadWelcome) return retry();
  // The browser cannot see why a handshake failed: ask the server. 403: origin not allowed (stop; not
  // on the bot's own origin, whose GETs carry no Origin); 401: bad token (drop it); else retry.
  fetch(`${server}/widget/token?token=${encodeURIComponent(st.token)}`, { cache: 'no-store', credentials: 'omit' })
    .then(r => r.status, () => 0).then(status => {
      if (status === 401 && withToken) forgetToken();
      if (status !== 403 || serverUrl.origin === location.origin) return retry();
      refused = true;
      i18n(statusEl, 'refused').hidden = false;
      console.error(`shopkeep widget: the bot refused this page's origin ${location.origin}; add it to channels.widget.allowed_origins in the bot's config`);
    });
}
function forgetToken() { st.token = ''; save(); }
function retry() { // exponential backoff with jitter, 0.5 s .. 15 s
  if (timer || ws) return;
  const cap = Math.min(15000, 500 * 2 ** attempt++);
  timer = setTimeout(connect, Math.max(500, cap / 2 + Math.random() * cap / 2));
}
function kill() { // drop the socket now, not waiting for its close
  const sock = ws;
  if (sock) { closed(sock, 1006, false); sock.close(); }
}
function reset() { // forget the conversation and start a new one
  kill();
  st = { token: '', conversationId: '', lastId: '', pending: [] };
  save();
  retryTimers.forEach(clearTimeout);
  retryTimers.clear();
  bubbles.clear();
  log.querySelectorAll(':scope > .skw-pending').forEach(n => n.remove());
  newConversation();
  attempt = 0;
  connect();
}

// ---- start
function init() {
  build();
  document.body.append(root);
  st.pending.forEach(addBubble);
  // A returning shopper connects now (to get the transcript); a new one on first open.
  if (st.token || st.pending.length) connect();
  if (opt('open') === 'true') open();
  // Back online or in view: the socket may be dead (network change, phone asleep).
  const wake = () => { attempt = 0; if (ws) ping(); else if (started) connect(); };
  addEventListener('online', wake);
  document.addEventListener('keydown', trap);
  document.addEventListener('visibilitychange', () => document.hidden || wake());
  if (langOpt === 'auto') {
    new MutationObserver(() => setLang(pageLang())).observe(document.documentElement, { attributeFilter: ['lang'] });
  }
  window.ShopkeepWidget = {
    open, close: () => close(), send: text => send(text), reset,
    get conversationId() { return st.conversationId || null; },
    get isOpen() { return isOpen; },
    get connected() { return !!(ws && welcomed); }
  };
  dispatchEvent(new Event('shopkeep:ready'));
}
if (document.body) init(); else document.addEventListener('DOMContentLoaded', init);
})();
