// Lianxin supervisors' wallboard: one websocket (/wallboard/ws, supervisors
// only; protocol in agentdesk/PROTOCOL.md), everything drawn here from its
// messages. Citizens' and agents' text is only ever set as textContent.

const TOKEN_KEY = 'lianxin.token'; // the desk's: one login serves both pages
const SVG_NS = 'http://www.w3.org/2000/svg';

const STATE_TEXT = {
  ready: '就绪', not_ready: '示忙', offered: '分派中', busy: '处理中', wrap_up: '话后整理', logged_out: '离线',
};
const STATE_ORDER = ['offered', 'busy', 'wrap_up', 'ready', 'not_ready', 'logged_out'];
const REASON_TEXT = {
  busy: '忙碌', break: '小休', meal: '用餐', training: '培训', meeting: '会议', login: '刚登录',
  missed_offers: '连续未接', supervisor: '班长置忙', login_expired: '登录到期',
};
const CHANNEL_TEXT = {
  voice: '电话', sms: '短信', wechat: '微信', mailbox: '邮件', web: '网信', '110-transfer': '110转办',
};
const CHANNEL_COLOR = {
  voice: '#2f6690', sms: '#2e7d4f', wechat: '#43a047', mailbox: '#8e5ea2', web: '#c2410c', '110-transfer': '#b3261e',
};
const CONTACT_STATE_TEXT = { offered: '振铃', assigned: '处理中', wrapup: '整理中', waiting: '排队' };
const ALERT_KIND_TEXT = {
  fire: '火警', gas: '燃气泄漏', medical: '急救', police: '警情', traffic: '交通事故', cluster: '集中诉求', archive_lag: '归档滞后', line_failed: '转接失败',
};
const ERROR_TEXT = {
  forbidden: '无权操作：仅限班长', not_found: '找不到对象', wrong_state: '当前状态不允许此操作',
  bad_message: '请求有误', unavailable: '服务暂不可用，请稍后重试', unknown_type: '服务器尚不支持此操作',
  no_phone: '您没有已注册的 SIP 话机，无法监听', no_monitor: '本节点未启用语音，无法监听',
  not_monitoring: '当前没有在监听', monitor_refused: '您的话机未接听',
};
const MONITOR_END_TEXT = {
  stopped: '已停止监听', hung_up: '您已挂机，监听结束', call_ended: '通话已结束，监听结束', refused: '您的话机未接听，监听未开始',
};

const $ = (id) => document.getElementById(id);

const S = {
  token: sessionStorage.getItem(TOKEN_KEY),
  ws: null,
  board: null,
  offset: 0, // server time − local time, ms
  alerts: [],
  known: new Set(), // alert ids already seen (sound once per new alert)
  sound: true,
  audio: null,
  sounds: 0,
  refs: new Map(),
  seq: 0,
  retry: 0,
  monitoring: null, // the last "monitoring" message while not ended: whose call the supervisor listens to
  agent: null, // the supervisor's id (hello)
};

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function toast(text, kind) {
  const t = $('toast');
  t.textContent = text;
  t.className = 'toast' + (kind === 'error' ? ' error' : '');
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

function dur(sec) {
  if (sec === null || sec === undefined || !isFinite(sec)) return '—';
  sec = Math.max(0, Math.round(sec));
  const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
  const two = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

function pct(v) { return v === null || v === undefined ? '—' : (v * 100).toFixed(1) + '%'; }

function hhmm(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString('zh-CN', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'Asia/Shanghai' });
}

function now() { return Date.now() + S.offset; }

// ---- login ----

async function login(ev) {
  ev.preventDefault();
  const err = $('login-error');
  err.hidden = true;
  try {
    const res = await fetch('/api/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agent: $('login-agent').value.trim(), password: $('login-password').value }),
    });
    const body = await res.json();
    if (!res.ok) {
      err.textContent = res.status === 401 ? '工号或密码错误' : res.status === 429 ? '尝试次数过多，请稍后再试' : '暂时无法登录，请稍后重试';
      err.hidden = false;
      return;
    }
    if (!body.agent.supervisor) {
      err.textContent = '此账号不是班长账号，不能打开监控屏';
      err.hidden = false;
      return;
    }
    S.token = body.token;
    sessionStorage.setItem(TOKEN_KEY, body.token);
    unlockAudio();
    start();
  } catch (e) {
    err.textContent = '网络错误，请检查连接';
    err.hidden = false;
  }
}

async function logout() {
  if (S.token) {
    await fetch('/api/logout', { method: 'POST', headers: { Authorization: 'Bearer ' + S.token } }).catch(() => {});
  }
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

function showLogin(msg) {
  $('board-view').hidden = true;
  $('login-view').hidden = false;
  if (msg) {
    $('login-error').textContent = msg;
    $('login-error').hidden = false;
  }
  $('login-agent').focus();
}

// ---- socket ----

async function start() {
  // A plain request first: a websocket refused before its upgrade tells the
  // page nothing, this says why (401 log in again, 403 not a supervisor).
  const res = await fetch('/api/queues', { headers: { Authorization: 'Bearer ' + S.token } }).catch(() => null);
  if (res && res.status === 401) { sessionStorage.removeItem(TOKEN_KEY); showLogin('登录已过期，请重新登录'); return; }
  if (res && res.status === 403) { showLogin('此账号不是班长账号，不能打开监控屏'); return; }
  $('login-view').hidden = true;
  $('board-view').hidden = false;
  connect();
  loadGroups();
}

setInterval(() => { if (S.token && S.ws) loadGroups(); }, 15000);

// The desk's page renews the login both pages share (renew.js) and says so
// here: the wallboard goes on with the new token, without reconnecting (a
// call listened to goes on too).
if ('BroadcastChannel' in window) {
  new BroadcastChannel('lianxin.login').onmessage = (e) => {
    const m = e.data || {};
    if (!S.agent || m.agent !== S.agent || typeof m.token !== 'string' || m.token === S.token) return;
    request('renew', { token: m.token }, (r) => {
      if (r.type !== 'renewed') return;
      S.token = m.token;
      sessionStorage.setItem(TOKEN_KEY, m.token);
    });
  };
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/wallboard/ws`, ['lianxin.wallboard', `bearer.${S.token}`]);
  S.ws = ws;
  setConn('connecting', '连接中…');
  ws.onopen = () => { S.retry = 0; setConn('open', '已连接'); };
  ws.onmessage = (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    handle(m);
  };
  ws.onclose = () => {
    if (S.ws !== ws) return;
    setConn('closed', '连接断开，正在重连…');
    S.retry = Math.min(S.retry + 1, 5);
    setTimeout(() => start(), 500 * S.retry);
  };
}

function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.textContent = text;
}

function send(type, fields) {
  if (!S.ws || S.ws.readyState !== WebSocket.OPEN) { toast('未连接，操作未发送', 'error'); return null; }
  const ref = 'w' + (++S.seq);
  S.ws.send(JSON.stringify({ type, ref, ...fields }));
  return ref;
}

function request(type, fields, done) {
  const ref = send(type, fields);
  if (ref) S.refs.set(ref, done || (() => {}));
}

function handle(m) {
  switch (m.type) {
    case 'hello':
      S.offset = new Date(m.server_time).getTime() - Date.now();
      S.agent = (m.agent && m.agent.id) || null;
      break;
    case 'wallboard':
      S.offset = new Date(m.server_time).getTime() - Date.now();
      S.board = m;
      render();
      break;
    case 'alerts':
      renderAlerts(m.alerts || []);
      break;
    case 'hot_topics':
      renderHot(m.topics || []);
      break;
    case 'monitoring':
      S.monitoring = m.state === 'ended' ? null : m;
      if (m.state === 'ringing') toast(`正在呼叫您的话机以监听 ${m.agent || m.contact} 的通话…`);
      else if (m.state === 'listening') toast(`正在监听 ${m.agent || ''} 的通话（${m.contact}），对方听不到您`);
      else toast(MONITOR_END_TEXT[m.reason] || '监听结束');
      if (S.board) renderAgents(S.board.agents || []);
      break;
    case 'ack':
    case 'error':
    case 'renewed': {
      const cb = S.refs.get(m.ref);
      S.refs.delete(m.ref);
      if (cb) cb(m);
      else if (m.type === 'error') toast(errorText(m), 'error');
      break;
    }
    default:
  }
}

function errorText(m) {
  const base = ERROR_TEXT[m.code] || '操作失败';
  return m.message ? `${base}（${m.message}）` : base;
}

// ---- rendering ----

function render() {
  const b = S.board;
  $('day').textContent = b.day;
  $('rebuild').hidden = b.ready;
  renderCounts(b.agent_counts || {});
  renderQueues(b.queues || []);
  renderAgents(b.agents || []);
  renderOrphans(b.orphans || []);
  renderChart(b.intervals || {});
}

function renderCounts(counts) {
  const box = $('agent-counts');
  box.replaceChildren();
  for (const st of STATE_ORDER) {
    const s = el('span', '', STATE_TEXT[st] + ' ');
    s.dataset.state = st;
    s.append(el('b', '', counts[st] || 0));
    box.append(s);
  }
}

function levelClass(v, good, warn, higherIsBetter) {
  if (v === null || v === undefined) return 'none';
  if (higherIsBetter) return v >= good ? 'good' : v >= warn ? 'warn' : 'bad';
  return v <= good ? 'good' : v <= warn ? 'warn' : 'bad';
}

function cell(tr, key, text, cls) {
  const td = el('td', cls || '', text);
  td.dataset.k = key;
  tr.append(td);
  return td;
}

function renderQueues(queues) {
  const tb = $('queues').tBodies[0];
  tb.replaceChildren();
  const t = { waiting: 0, calls: 0, texts: 0, oldest: 0, queued: 0, qc: 0, qt: 0, met: 0, ans: 0, aband: 0, waitSum: 0, handled: 0, ahtSum: 0 };
  for (const q of queues) {
    const tr = el('tr');
    tr.dataset.queue = q.name;
    const title = cell(tr, 'title', q.title, 'left title');
    title.title = q.title;
    cell(tr, 'waiting', `${q.waiting_calls} / ${q.waiting_texts}`, q.waiting > 0 ? 'hot-val' : 'none');
    cell(tr, 'oldest', q.waiting > 0 ? dur(q.oldest_wait_seconds) : '—', q.oldest_wait_seconds >= 60 ? 'bad' : q.oldest_wait_seconds >= 20 ? 'warn' : '');
    cell(tr, 'queued', `${q.queued_calls} / ${q.queued_texts}`, q.queued ? '' : 'none');
    cell(tr, 'service_level', pct(q.service_level), levelClass(q.service_level, 0.8, 0.6, true));
    cell(tr, 'asa', q.asa_seconds === null ? '—' : dur(q.asa_seconds), q.asa_seconds === null ? 'none' : '');
    cell(tr, 'abandon_rate', pct(q.abandon_rate), levelClass(q.abandon_rate, 0.05, 0.1, false));
    cell(tr, 'aht', q.aht_seconds === null ? '—' : dur(q.aht_seconds), q.aht_seconds === null ? 'none' : '');
    tb.append(tr);
    t.waiting += q.waiting; t.calls += q.waiting_calls; t.texts += q.waiting_texts;
    t.oldest = Math.max(t.oldest, q.waiting > 0 ? q.oldest_wait_seconds : 0);
    t.queued += q.queued; t.qc += q.queued_calls; t.qt += q.queued_texts;
    t.met += q.answered_within + q.abandoned_within; t.ans += q.answered; t.aband += q.abandoned;
    t.waitSum += q.answer_wait_seconds_sum; t.handled += q.handled; t.ahtSum += (q.aht_seconds || 0) * q.handled;
  }
  const tr = el('tr', 'total');
  tr.dataset.queue = '*';
  // The total goes first, so it is never scrolled out of sight.
  cell(tr, 'title', '合计', 'left');
  cell(tr, 'waiting', `${t.calls} / ${t.texts}`);
  cell(tr, 'oldest', t.waiting > 0 ? dur(t.oldest) : '—');
  cell(tr, 'queued', `${t.qc} / ${t.qt}`);
  const sl = t.queued ? t.met / t.queued : null;
  cell(tr, 'service_level', pct(sl), levelClass(sl, 0.8, 0.6, true));
  cell(tr, 'asa', t.ans ? dur(t.waitSum / t.ans) : '—');
  const ar = t.queued ? t.aband / t.queued : null;
  cell(tr, 'abandon_rate', pct(ar), levelClass(ar, 0.05, 0.1, false));
  cell(tr, 'aht', t.handled ? dur(t.ahtSum / t.handled) : '—');
  tb.prepend(tr);
}

function renderAgents(agents) {
  const tb = $('agents').tBodies[0];
  tb.replaceChildren();
  const order = (s) => STATE_ORDER.indexOf(s);
  agents = [...agents].sort((a, b) => order(a.state) - order(b.state) || a.id.localeCompare(b.id));
  for (const a of agents) {
    const tr = el('tr');
    tr.dataset.agent = a.id;
    const who = cell(tr, 'who', '', 'left');
    who.append(el('span', '', a.name || a.id), el('span', 'reason', a.id));
    const st = cell(tr, 'state', '', 'left');
    const badge = el('span', 'state', STATE_TEXT[a.state] || a.state);
    badge.dataset.state = a.state;
    st.append(badge);
    if (a.reason && a.state === 'not_ready') st.append(el('span', 'reason', REASON_TEXT[a.reason] || a.reason));
    const since = cell(tr, 'since', '');
    since.dataset.since = a.since;
    since.textContent = dur((now() - new Date(a.since).getTime()) / 1000);
    const cs = cell(tr, 'contacts', '', 'contacts');
    cs.textContent = a.contacts.map((c) => `${CHANNEL_TEXT[c.channel] || c.channel} ${c.tracking_no}（${CONTACT_STATE_TEXT[c.state] || c.state}）`).join('，') || '—';
    cs.title = cs.textContent;
    cell(tr, 'misses', a.misses, a.misses > 0 ? 'misses-on' : 'none');
    const act = cell(tr, 'actions', '', 'actions');
    const mon = S.monitoring && S.monitoring.agent === a.id;
    if (mon) tr.classList.add('monitored');
    if (mon || a.contacts.some((c) => c.channel === 'voice' && c.state === 'assigned')) {
      const b = el('button', mon ? 'small danger' : 'small', mon ? '停听' : '监听');
      b.title = mon ? '停止监听此通话' : '静默监听：呼叫您的话机，只听不说，通话双方听不到您';
      b.dataset.action = mon ? 'monitor_stop' : 'monitor';
      b.addEventListener('click', () => {
        b.disabled = true;
        request(mon ? 'monitor_stop' : 'monitor', mon ? {} : { agent: a.id }, (r) => {
          b.disabled = false;
          if (r.type === 'error') toast(errorText(r), 'error');
          else if (mon) { S.monitoring = null; renderAgents(S.board.agents || []); }
        });
      });
      act.append(b);
    }
    if (a.state !== 'logged_out') {
      const nr = el('button', 'small', '置忙');
      nr.title = '强制示忙：不再分派新工单，手中工单保留';
      nr.disabled = a.state === 'not_ready';
      nr.dataset.action = 'force_not_ready';
      nr.addEventListener('click', () => act1('force_not_ready', a, nr));
      const lo = el('button', 'small danger', '签出');
      lo.title = '强制签出：关闭其工作台，未接的分派退回队列';
      lo.dataset.action = 'force_logout';
      lo.addEventListener('click', () => {
        if (confirm(`确定将 ${a.name || a.id}（${a.id}）强制签出？`)) act1('force_logout', a, lo);
      });
      act.append(nr, lo);
    }
    tb.append(tr);
  }
  if (!agents.length) {
    const tr = el('tr');
    const td = el('td', 'none left', '暂无在线坐席');
    td.colSpan = 6;
    tr.append(td);
    tb.append(tr);
  }
}

function act1(type, a, btn) {
  btn.disabled = true;
  request(type, { agent: a.id }, (m) => {
    btn.disabled = false;
    if (m.type === 'error') toast(errorText(m), 'error');
    else toast(type === 'force_logout' ? `已将 ${a.name || a.id} 签出` : `已将 ${a.name || a.id} 置为示忙`);
  });
}

function renderOrphans(list) {
  const ul = $('orphans');
  ul.replaceChildren();
  if (!list.length) { ul.append(el('li', 'empty', '无')); return; }
  for (const c of list) {
    const li = el('li');
    li.dataset.contact = c.tracking_no;
    li.append(el('span', 'tn', c.tracking_no), el('span', '', CHANNEL_TEXT[c.channel] || c.channel),
      el('span', '', `${c.agent_name || c.agent}（${c.agent}，离线）`), el('span', '', CONTACT_STATE_TEXT[c.state] || c.state));
    const b = el('button', 'small primary', '退回队列');
    b.title = '退回原队列，保持原排队位置，由下一位坐席接办';
    b.addEventListener('click', () => {
      b.disabled = true;
      request('reassign', { contact: c.tracking_no }, (m) => {
        b.disabled = false;
        if (m.type === 'error') toast(errorText(m), 'error');
        else toast(`工单 ${c.tracking_no} 已退回队列`);
      });
    });
    li.append(b);
    ul.append(li);
  }
}

function renderChart(intervals) {
  // The legend first: its height takes from the box measured below.
  const lg = $('legend');
  lg.replaceChildren();
  for (const c of Object.keys(CHANNEL_TEXT)) {
    const sum = intervals[c] ? intervals[c].reduce((a, b) => a + b, 0) : 0;
    if (!sum && c !== 'voice') continue;
    const span = el('span');
    const sw = el('i');
    sw.style.background = CHANNEL_COLOR[c];
    span.append(sw, document.createTextNode(`${CHANNEL_TEXT[c]} ${sum}`));
    lg.append(span);
  }
  const box = $('chart');
  // Drawn at the box's own size, so text and bars are never stretched.
  const r = box.getBoundingClientRect();
  const W = Math.max(Math.floor(r.width), 200), H = Math.max(Math.floor(r.height), 100);
  const L = 30, B = 20, T = 8, R = 10;
  const chans = Object.keys(CHANNEL_TEXT).filter((c) => intervals[c]);
  // From midnight to the end of the current hour (at least 6 hours).
  const d = new Date(now());
  const minutes = ((d.getUTCHours() + 8) % 24) * 60 + d.getUTCMinutes();
  const hours = Math.min(24, Math.max(6, Math.floor(minutes / 60) + 1));
  const n = hours * 4;
  const totals = new Array(n).fill(0);
  for (const c of chans) intervals[c].slice(0, n).forEach((v, i) => { totals[i] += v; });
  const maxV = Math.max(4, ...totals);
  const step = niceStep(maxV);
  const top = Math.ceil(maxV / step) * step;
  const s = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': '今日每15分钟进线量' });
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const bw = (W - L - R) / n;
  for (let v = 0; v <= top; v += step) {
    s.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e3e8ed', 'stroke-width': 1 }));
    const t = svg('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#66717e' });
    t.textContent = String(v);
    s.append(t);
  }
  const every = hours <= 8 ? 1 : hours <= 16 ? 2 : 3;
  for (let h = 0; h <= hours; h += every) {
    const t = svg('text', { x: L + h * 4 * bw, y: H - 4, 'text-anchor': 'middle', 'font-size': 11, fill: '#66717e' });
    t.textContent = `${h}时`;
    s.append(t);
  }
  const base = new Array(n).fill(0);
  for (const c of chans) {
    intervals[c].slice(0, n).forEach((v, i) => {
      if (!v) return;
      const r = svg('rect', { x: L + i * bw + 0.5, width: Math.max(bw - 1, 1), y: y(base[i] + v), height: y(base[i]) - y(base[i] + v), fill: CHANNEL_COLOR[c] || '#999' });
      r.dataset.channel = c;
      r.dataset.slot = i;
      r.dataset.count = v;
      const tip = svg('title');
      const hh = String(Math.floor(i / 4)).padStart(2, '0'), mm = String((i % 4) * 15).padStart(2, '0');
      tip.textContent = `${hh}:${mm} ${CHANNEL_TEXT[c]} ${v}`;
      r.append(tip);
      s.append(r);
      base[i] += v;
    });
  }
  // Now: a dashed line where the day stands.
  const x = L + (minutes / 15) * bw;
  s.append(svg('line', { x1: x, x2: x, y1: T, y2: H - B, stroke: '#c2410c', 'stroke-dasharray': '3 2', 'stroke-width': 1 }));
  box.replaceChildren(s);
}

function niceStep(maxV) {
  for (const s of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]) if (maxV / s <= 5) return s;
  return 10000;
}

// ---- alerts ----

function renderAlerts(list) {
  S.alerts = list;
  const ul = $('alerts');
  ul.replaceChildren();
  let open = 0, fresh = false;
  for (const a of list) {
    if (!a.acked_at) open++;
    if (!S.known.has(a.id)) {
      S.known.add(a.id);
      if (!a.acked_at && S.loadedAlerts) fresh = true;
    }
    const li = el('li', (a.kind === 'cluster' ? 'cluster' : '') + (a.acked_at ? ' acked' : ''));
    li.dataset.alert = a.id;
    const head = el('div');
    head.append(el('span', 'kind', ALERT_KIND_TEXT[a.kind] || a.kind), el('span', 'meta', ` ${hhmm(a.at)}`));
    if (a.contact) head.append(el('span', 'meta tn', ` 工单 ${a.contact}`));
    li.append(head);
    if (!a.acked_at) {
      const b = el('button', 'small primary', '确认');
      b.addEventListener('click', () => {
        b.disabled = true;
        request('alert_ack', { id: a.id }, (m) => {
          if (m.type === 'error') { b.disabled = false; toast(errorText(m), 'error'); }
        });
      });
      li.append(b);
    } else {
      li.append(el('span', 'meta', `已由 ${a.acked_by_name || a.acked_by} 于 ${hhmm(a.acked_at)} 确认`));
    }
    li.append(el('div', 'text', a.text || ''));
    ul.append(li);
  }
  if (!list.length) ul.append(el('li', 'empty', '暂无告警'));
  const badge = $('alert-count');
  badge.textContent = `${open} 条未确认`;
  badge.hidden = open === 0;
  document.title = open ? `(${open}) 连心 · 班长监控屏` : '连心 · 班长监控屏';
  if (fresh) beep();
  S.loadedAlerts = true;
  if (open && !S.loadedOnce) beep(); // unacknowledged on arrival: remind once
  S.loadedOnce = true;
}

function unlockAudio() {
  try {
    if (!S.audio) S.audio = new AudioContext();
    if (S.audio.state === 'suspended') S.audio.resume();
  } catch { /* no audio: the list and the badge remain */ }
}

// beep plays two short tones (the page's own sound: no asset to load).
function beep() {
  S.sounds++;
  document.body.dataset.sounds = String(S.sounds);
  if (!S.sound) return;
  unlockAudio();
  const ctx = S.audio;
  if (!ctx) return;
  const t0 = ctx.currentTime;
  for (const [i, f] of [[0, 880], [1, 660], [2, 880]]) {
    const o = ctx.createOscillator(), g = ctx.createGain();
    o.frequency.value = f;
    g.gain.setValueAtTime(0.0001, t0 + i * 0.25);
    g.gain.exponentialRampToValueAtTime(0.3, t0 + i * 0.25 + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.25 + 0.22);
    o.connect(g).connect(ctx.destination);
    o.start(t0 + i * 0.25);
    o.stop(t0 + i * 0.25 + 0.24);
  }
}

// Unacknowledged alerts ring again every 30 s.
setInterval(() => { if (S.alerts.some((a) => !a.acked_at)) beep(); }, 30000);

// ---- hot topics ----

function renderHot(topics) {
  const ul = $('hot-list');
  ul.replaceChildren();
  for (const t of topics) {
    const li = el('li');
    li.dataset.topic = t.id;
    li.append(el('span', 'meta', `${t.line === '*' ? '全部线路' : '线路 ' + t.line} · ${t.by} · ${hhmm(t.published_at)}`));
    const b = el('button', 'small danger', '撤回');
    b.addEventListener('click', () => request('hot_topic_withdraw', { id: t.id }, hotResult));
    const text = el('div', 'text', t.text);
    text.title = t.text; // two lines shown; the whole answer on hover
    li.append(b, text);
    ul.append(li);
  }
  if (!topics.length) ul.append(el('li', 'empty', '当前没有发布中的热点答复'));
}

function hotResult(m) {
  const st = $('hot-status');
  if (m.type === 'error') {
    st.className = 'hot-status error';
    st.textContent = m.code === 'unknown_type' || m.code === 'no_hot_topics'
      ? '服务器尚不支持热点答复（IVR 热点播报功能未启用）' : errorText(m);
  } else {
    st.className = 'hot-status';
    st.textContent = '已完成';
  }
}

// The common problems now published (GET /api/clusters), for 从共性问题生成.
async function loadGroups() {
  const res = await fetch('/api/clusters?min=3', { headers: { Authorization: 'Bearer ' + S.token } }).catch(() => null);
  if (!res || !res.ok) return;
  const body = await res.json().catch(() => null);
  if (!body) return;
  const sel = $('hot-group');
  const keep = sel.value;
  sel.replaceChildren(new Option('从共性问题生成（可选）', ''));
  for (const c of body.clusters || []) {
    sel.append(new Option(`${c.label}（${c.count} 件${c.alerted ? '，已告警' : ''}）`, c.id));
  }
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : '';
}

// publishGroup turns a common problem into the answer (POST
// /api/clusters/{id}/hot-topic): the text and line typed, if any, else
// the group's.
async function publishGroup(id, line, text) {
  const st = $('hot-status');
  const fields = {};
  if (line && line !== '*') fields.line = line;
  if (text) fields.text = text;
  const res = await fetch(`/api/clusters/${encodeURIComponent(id)}/hot-topic`, {
    method: 'POST', headers: { Authorization: 'Bearer ' + S.token, 'Content-Type': 'application/json' },
    body: JSON.stringify(fields),
  }).catch(() => null);
  const body = res ? await res.json().catch(() => ({})) : {};
  if (res && res.status === 201) {
    st.className = 'hot-status';
    st.textContent = `已发布：${body.text}`;
    $('hot-text').value = '';
    $('hot-group').value = '';
    return;
  }
  st.className = 'hot-status error';
  st.textContent = res ? errorText({ code: body.error, message: body.message }) : '未连接，操作未发送';
  if (res && res.status === 404) loadGroups();
}

function publishHot(ev) {
  ev.preventDefault();
  const line = $('hot-line').value.trim() || '*';
  const text = $('hot-text').value.trim();
  const st = $('hot-status');
  const group = $('hot-group').value;
  if (group) { publishGroup(group, line, text); return; }
  if (!text) { st.className = 'hot-status error'; st.textContent = '请填写答复内容'; return; }
  if (text.length > 500) { st.className = 'hot-status error'; st.textContent = '答复不能超过 500 字'; return; }
  request('hot_topic_publish', { line, text }, (m) => {
    hotResult(m);
    if (m.type === 'ack') $('hot-text').value = '';
  });
}

// ---- clock: time in state and oldest waits move between pushes ----

setInterval(() => {
  for (const td of document.querySelectorAll('#agents td[data-since]')) {
    td.textContent = dur((now() - new Date(td.dataset.since).getTime()) / 1000);
  }
}, 1000);

// ---- wiring ----

$('login-form').addEventListener('submit', login);
$('logout').addEventListener('click', logout);
$('hot-form').addEventListener('submit', publishHot);
// The status is cut to one line: its whole text on hover.
new MutationObserver(() => { $('hot-status').title = $('hot-status').textContent; })
  .observe($('hot-status'), { childList: true, characterData: true, subtree: true });
$('help-btn').addEventListener('click', () => $('help').showModal());
$('sound').addEventListener('click', () => {
  S.sound = !S.sound;
  $('sound').textContent = S.sound ? '提示音：开' : '提示音：关';
  if (S.sound) unlockAudio();
});
document.addEventListener('click', unlockAudio, { once: true });
renderHot([]);
// Redrawn at the new size when the window changes.
new ResizeObserver(() => { if (S.board) renderChart(S.board.intervals || {}); }).observe($('chart'));

if (S.token) start();
else showLogin();
