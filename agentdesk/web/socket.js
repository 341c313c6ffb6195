// The desk's websocket (agentdesk/PROTOCOL.md): connect with the token as
// a subprotocol, reconnect with backoff, ping, and hand each message to the
// subscribers of its type.
//
//   send(msg)        sends {type, …} with a fresh ref; returns the ref or null
//   on(type, fn)     fn(msg, request) for every message of that type; for
//                    `ack`, `error` and `renewed`, request is the message
//                    they answer
//
// Besides the server's types, subscribers may listen to `socket:replaced`
// (another window took over), `socket:ended` (token expired or logged out)
// and `socket:open`.
import { $ } from './dom.js';
import { S, setBusy } from './store.js';
import { toast } from './dom.js';

const BACKOFF_MIN = 500;
const BACKOFF_MAX = 10000;
const PING_EVERY = 20000;    // app-level ping, so we notice a dead socket
const SILENCE_LIMIT = 60000; // no message for this long: the socket is dead

const T = {
  ws: null,
  stopped: true,   // no reconnecting (logged out, replaced)
  backoff: BACKOFF_MIN,
  retryTimer: 0,
  lastMsgAt: 0,
  refSeq: 0,
  pending: new Map(), // ref -> the message sent
};

const subscribers = new Map();

export function on(type, fn) {
  if (!subscribers.has(type)) subscribers.set(type, []);
  subscribers.get(type).push(fn);
}

function dispatch(m, request) {
  for (const fn of subscribers.get(m.type) || []) {
    try { fn(m, request); } catch (err) { console.error(`desk: handling ${m.type}:`, err); }
  }
}

export const isOpen = () => !!T.ws && T.ws.readyState === WebSocket.OPEN;
export const stopped = () => T.stopped;

// send sends one message with a fresh ref and remembers it until the server
// answers with ack or error; a message naming a contact marks it busy until
// then. Pass {track: false} for messages answered otherwise (ping, logout).
export function send(msg, { track = true, quiet = false } = {}) {
  if (!isOpen()) {
    if (!quiet) toast('未连接服务器，请稍后再试', 'error');
    return null;
  }
  const ref = `d${++T.refSeq}`;
  const out = Object.assign({}, msg, { ref });
  T.ws.send(JSON.stringify(out));
  if (track) {
    T.pending.set(ref, out);
    if (out.contact) setBusy(out.contact, true);
  }
  return ref;
}

// forget drops the requests in flight (on hello, the server starts over).
export function forgetPending() { T.pending.clear(); }

function answered(m) {
  const req = m.ref ? T.pending.get(m.ref) : undefined;
  if (req) {
    T.pending.delete(m.ref);
    if (req.contact) setBusy(req.contact, false);
  }
  return req;
}

export function start() {
  T.stopped = false;
  T.backoff = BACKOFF_MIN;
  connect();
}

// resetBackoff is called once the server greets us.
export function resetBackoff() { T.backoff = BACKOFF_MIN; }

// setConn shows the socket's state in Chinese; the English is its title
// (the status bar has to fit a 1366 px screen on one row).
function setConn(conn, text, en) {
  const labels = { open: ['已连接', 'connected'], connecting: ['连接中…', 'connecting'], closed: ['未连接', 'disconnected'] };
  $('conn').dataset.conn = conn;
  $('conn').textContent = text || labels[conn][0];
  $('conn').title = en || labels[conn][1];
}

function connect() {
  clearTimeout(T.retryTimer);
  if (T.stopped || !S.token) return;
  setConn('connecting');
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // The token travels as a subprotocol, never in the URL (PROTOCOL.md).
  const ws = new WebSocket(`${proto}//${location.host}/desk/ws`, ['lianxin.desk', `bearer.${S.token}`]);
  let opened = false;
  T.ws = ws;
  ws.onopen = () => {
    if (ws !== T.ws) return;
    opened = true;
    T.lastMsgAt = Date.now();
    setConn('open');
    dispatch({ type: 'socket:open' });
  };
  ws.onmessage = (ev) => {
    if (ws !== T.ws) return;
    T.lastMsgAt = Date.now();
    let msg;
    try { msg = JSON.parse(ev.data); } catch (_) { return; }
    if (!msg || typeof msg.type !== 'string') return;
    const req = ['ack', 'error', 'renewed'].includes(msg.type) ? answered(msg) : undefined;
    dispatch(msg, req);
  };
  ws.onclose = (ev) => {
    if (ws !== T.ws) return; // a socket we already gave up on
    T.ws = null;
    setConn('closed');
    onClose(ev.code, opened);
  };
}

// stop closes the socket for good (logout, login page).
export function stop() {
  T.stopped = true;
  const ws = T.ws;
  T.ws = null;
  clearTimeout(T.retryTimer);
  if (ws) try { ws.close(1000); } catch (_) { /* already closing */ }
  setConn('closed');
}

async function onClose(code, opened) {
  if (T.stopped) return;
  if (code === 4001) {
    T.stopped = true;
    setConn('closed', '已被替换', 'replaced by another desk');
    dispatch({ type: 'socket:replaced' });
    return;
  }
  if (code === 4002) { dispatch({ type: 'socket:ended', text: '登录已过期或已退出，请重新登录' }); return; }
  // A socket refused before the upgrade shows up as 1006 without an open;
  // the browser hides the HTTP status, so ask the endpoint over plain HTTP.
  if (!opened && await tokenRejected() && !T.stopped) {
    dispatch({ type: 'socket:ended', text: '登录已过期，请重新登录' });
    return;
  }
  scheduleReconnect();
}

async function tokenRejected() {
  try {
    const res = await fetch('/desk/ws', { headers: { Authorization: `Bearer ${S.token}` }, cache: 'no-store' });
    return res.status === 401;
  } catch (_) {
    return false; // server unreachable: keep trying
  }
}

// scheduleReconnect waits backoff/2 … backoff (jitter), then doubles it.
function scheduleReconnect() {
  if (T.stopped) return;
  const delay = T.backoff / 2 + Math.random() * T.backoff / 2;
  T.backoff = Math.min(T.backoff * 2, BACKOFF_MAX);
  setConn('closed', `重连中 ${(delay / 1000).toFixed(1)} 秒`, 'reconnecting');
  T.retryTimer = setTimeout(connect, delay);
}

// heartbeat pings the server and drops a socket that has gone silent.
function heartbeat() {
  const ws = T.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  if (Date.now() - T.lastMsgAt > SILENCE_LIMIT) {
    T.ws = null;
    try { ws.close(4000, 'silent'); } catch (_) { /* ignore */ }
    setConn('closed');
    scheduleReconnect();
    return;
  }
  send({ type: 'ping' }, { track: false });
}

setInterval(heartbeat, PING_EVERY);
