// Lianxin agent desk (连心坐席工作台).
//
// One page: log in over HTTP, then one websocket speaking the JSON protocol
// in agentdesk/PROTOCOL.md. Everything a citizen wrote (and everything the
// server sends) reaches the DOM as text only: textContent, text nodes or
// form values. This file never parses strings as HTML.
'use strict';

(() => {
  // ---------------------------------------------------------------- labels

  const STATES = {
    ready: '就绪', not_ready: '未就绪', offered: '振铃',
    busy: '忙碌', wrap_up: '话后', logged_out: '离线',
  };
  // Reasons an agent can pick; the server may send others (missed_offers, busy).
  const NOT_READY_REASONS = [['break', '小休'], ['meal', '用餐'], ['training', '培训'], ['meeting', '会议']];
  const REASONS = Object.assign(Object.fromEntries(NOT_READY_REASONS),
    { busy: '忙碌', missed_offers: '漏接过多' });
  const CHANNELS = {
    voice: '电话', sms: '短信', wechat: '微信', mailbox: '信箱', web: '网站', '110-transfer': '110转来',
  };
  const REQUEST_TYPES = [
    ['consultation', '咨询'], ['help', '求助'], ['complaint', '投诉'], ['report', '举报'],
    ['suggestion', '建议'], ['praise', '表扬'], ['other', '其他'],
  ];
  const OUTCOMES = [
    ['resolved', '当场解答'], ['dispatched', '转办'], ['transferred_110', '转110'],
    ['transferred_119', '转119'], ['transferred_120', '转120'], ['transferred_122', '转122'],
    ['invalid', '无效'], ['duplicate', '重复'],
  ];
  const CONTACT_STATES = { waiting: '排队', offered: '振铃', assigned: '处理中', wrapup: '话后', closed: '已办结' };
  const RESCIND_REASONS = {
    expired: '超时未接', rejected: '已拒绝', node_lost: '节点失联',
    logged_out: '已退出', drained: '节点维护', disconnected: '连接中断', abandoned: '来电人已挂机',
  };
  const HANGUP_BY = { caller: '市民挂机', agent: '坐席挂机', media_timeout: '通话中断（无语音）', node_lost: '节点失联' };
  const LOGIN_ERRORS = { bad_credentials: '工号或密码错误', too_many_attempts: '尝试次数过多，请一分钟后再试' };

  const BASE_TITLE = '连心 · 坐席工作台';
  const BACKOFF_MIN = 500;
  const BACKOFF_MAX = 10000;
  const PING_EVERY = 20000;   // app-level ping, so we notice a dead socket
  const SILENCE_LIMIT = 60000; // no message for this long: the socket is dead

  const TOKEN_KEY = 'lianxin.token';

  // ----------------------------------------------------------------- state

  const S = {
    token: sessionStorage.getItem(TOKEN_KEY),
    ws: null,
    stopped: true,          // no reconnecting (logged out, replaced)
    backoff: BACKOFF_MIN,
    retryTimer: 0,
    lastMsgAt: 0,
    skew: 0,                // server clock minus our clock, ms
    agent: null,
    refSeq: 0,
    pending: new Map(),     // ref -> {type, contact}
    busy: new Set(),        // tracking numbers with a request in flight
    offers: new Map(),      // tracking_no -> {contact, expiresAt, total, card}
    contacts: new Map(),    // tracking_no -> contact (in order of arrival)
    selected: null,
    selectNext: null,       // tracking_no to select when it is assigned
    drafts: new Map(),      // tracking_no -> {request_type, outcome, note}
  };

  // ----------------------------------------------------------- DOM helpers

  const $ = (id) => document.getElementById(id);

  // el builds an element. props are set as properties (className, type,
  // title, …) except `data` (dataset) and `attrs` (setAttribute). Children
  // are nodes or strings; strings become text nodes.
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'data') Object.assign(node.dataset, v);
      else if (k === 'attrs') for (const [a, av] of Object.entries(v)) node.setAttribute(a, av);
      else node[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }

  // small returns the secondary English text used next to Chinese labels.
  const small = (text) => el('small', {}, text);

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function fillSelect(select, pairs) {
    for (const [value, zh] of pairs) select.append(el('option', { value }, `${zh} ${value}`));
  }

  // toast shows a short message; errors stay longer and are announced.
  function toast(text, kind = 'info') {
    const item = el('div', { className: `toast-item ${kind}` }, text);
    if (kind === 'error') item.setAttribute('role', 'alert');
    $('toast').append(item);
    setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  // fmtTime formats an RFC 3339 time in local time, "2026-11-26 14:03:09".
  function fmtTime(s) {
    if (!s) return '';
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) return String(s);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtSize(n) {
    if (typeof n !== 'number' || n < 0) return '';
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  const channelLabel = (c) => `${CHANNELS[c] || c || '?'} ${c || ''}`.trim();
  const labelOf = (pairs, v) => (pairs.find((p) => p[0] === v) || [v, v])[1];
  const serverNow = () => Date.now() + S.skew;

  // fmtPhone shows a number as an agent reads it aloud: +8613800138000 is
  // "138 0013 8000", a landline keeps its area code; others are left as sent.
  function fmtPhone(p) {
    if (!p) return '';
    if (p === 'anonymous') return '号码未显示';
    let d = String(p).replace(/[\s-]/g, '');
    if (d.startsWith('+86')) d = d.slice(3);
    else if (d.startsWith('+')) return String(p);
    if (/^1\d{10}$/.test(d)) return `${d.slice(0, 3)} ${d.slice(3, 7)} ${d.slice(7)}`;
    if (/^0\d{9,11}$/.test(d)) return `0${d.slice(1, d.length - 8)} ${d.slice(-8, -4)} ${d.slice(-4)}`;
    return d;
  }

  // caller is the citizen's number for a call, their name or address otherwise.
  function callerOf(c) {
    const citizen = c.citizen || {};
    if (c.channel === 'voice') return fmtPhone(citizen.phone || citizen.address) || '号码未显示';
    return citizen.name || citizen.address || '';
  }

  // lineOf names the line: its name, and its number when the name lacks it.
  function lineOf(c) {
    if (!c.line_name) return c.line || '';
    return c.line && !c.line_name.includes(c.line) ? `${c.line_name} (${c.line})` : c.line_name;
  }

  // subjectOf names a contact in the list: a call by its caller's number
  // (every call's subject is the same line name), others by their subject.
  function subjectOf(c) {
    if (c.channel === 'voice') return `来电 ${callerOf(c)}`;
    if (c.subject) return c.subject;
    return (c.citizen && c.citizen.name) || '（无主题）';
  }

  // fmtClock is a running call's length, 0:42 or 1:02:03.
  function fmtClock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    return h > 0 ? `${h}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}` : `${Math.floor(s / 60)}:${pad(s % 60)}`;
  }

  // tickTalk updates every running call's clock.
  function tickTalk() {
    for (const node of document.querySelectorAll('[data-talk-start]')) {
      node.textContent = `通话中 ${fmtClock(serverNow() - Number(node.dataset.talkStart))}`;
    }
  }

  // fmtSeconds is a duration as 1分05秒.
  function fmtSeconds(n) {
    if (typeof n !== 'number' || n < 0) return '';
    const s = Math.round(n);
    return s >= 60 ? `${Math.floor(s / 60)}分${pad(s % 60)}秒` : `${s}秒`;
  }

  // ------------------------------------------------------------- login/out

  function showLogin(message) {
    S.stopped = true;
    closeSocket();
    S.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    resetWork();
    $('desk-view').hidden = true;
    $('login-view').hidden = false;
    $('login-password').value = '';
    setLoginError(message || '');
    $(message ? 'login-password' : 'login-agent').focus();
  }

  function setLoginError(text) {
    $('login-error').textContent = text;
    $('login-error').hidden = !text;
  }

  function showDesk() {
    $('desk-view').classList.remove('inactive');
    $('login-view').hidden = true;
    $('desk-view').hidden = false;
    hideBanner();
  }

  async function onLoginSubmit(ev) {
    ev.preventDefault();
    const agent = $('login-agent').value.trim();
    const password = $('login-password').value;
    if (!agent || !password) { setLoginError('请输入工号和密码 (agent id and password are required)'); return; }
    const button = $('login-submit');
    button.disabled = true;
    setLoginError('');
    try {
      const res = await fetch('/api/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ agent, password }),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok || !body.token) {
        const zh = LOGIN_ERRORS[body.error] || '登录失败';
        setLoginError(`${zh} (${body.message || body.error || 'HTTP ' + res.status})`);
        return;
      }
      S.token = body.token;
      sessionStorage.setItem(TOKEN_KEY, body.token);
      S.agent = body.agent || null;
      renderAgent();
      $('login-password').value = '';
      start();
    } catch (err) {
      setLoginError(`无法连接服务器 (cannot reach the server: ${err.message})`);
    } finally {
      button.disabled = false;
    }
  }

  // logout tells the desk socket (offers go back to the queue) and the API.
  async function logout() {
    const token = S.token;
    if (S.ws && S.ws.readyState === WebSocket.OPEN) send('logout');
    S.stopped = true;
    try {
      await fetch('/api/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    } catch (_) { /* the token expires on its own */ }
    showLogin('');
  }

  // ------------------------------------------------------------- queues

  // refreshQueues shows a supervisor the live picture of every queue.
  async function refreshQueues() {
    if (!S.agent || !S.agent.supervisor || !S.token || S.stopped) return;
    let data;
    try {
      const res = await fetch('/api/queues', { headers: { Authorization: `Bearer ${S.token}` } });
      if (!res.ok) return;
      data = await res.json();
    } catch (_) { return; }
    const tbody = $('queues');
    clear(tbody);
    for (const q of data.queues || []) {
      const a = q.agents || {};
      const wait = q.waiting > 0 ? `${Math.round(q.oldest_wait_seconds || 0)} s` : '–';
      const row = el('tr', { data: { queue: q.name } },
        el('td', {}, q.name),
        el('td', { className: q.waiting > 0 ? 'num warn' : 'num' }, String(q.waiting)),
        el('td', { className: 'num' }, wait),
        el('td', { className: 'num' }, `${a.ready || 0} / ${(a.busy || 0) + (a.offered || 0) + (a.wrap_up || 0)}`));
      tbody.append(row);
    }
  }

  // -------------------------------------------------------------- socket

  function start() {
    S.stopped = false;
    S.backoff = BACKOFF_MIN;
    showDesk();
    connect();
  }

  // setConn shows the socket's state in Chinese; the English is its title
  // (the status bar has to fit a 1366 px screen on one row).
  function setConn(conn, text, en) {
    const labels = { open: ['已连接', 'connected'], connecting: ['连接中…', 'connecting'], closed: ['未连接', 'disconnected'] };
    $('conn').dataset.conn = conn;
    $('conn').textContent = text || labels[conn][0];
    $('conn').title = en || labels[conn][1];
  }

  function connect() {
    clearTimeout(S.retryTimer);
    if (S.stopped || !S.token) return;
    setConn('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // The token travels as a subprotocol, never in the URL (PROTOCOL.md).
    const ws = new WebSocket(`${proto}//${location.host}/desk/ws`, ['lianxin.desk', `bearer.${S.token}`]);
    let opened = false;
    S.ws = ws;
    ws.onopen = () => {
      if (ws !== S.ws) return;
      opened = true;
      S.lastMsgAt = Date.now();
      setConn('open');
    };
    ws.onmessage = (ev) => {
      if (ws !== S.ws) return;
      S.lastMsgAt = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      if (msg && typeof msg.type === 'string') dispatch(msg);
    };
    ws.onclose = (ev) => {
      if (ws !== S.ws) return; // a socket we already gave up on
      S.ws = null;
      setConn('closed');
      onClose(ev.code, opened);
    };
  }

  function closeSocket() {
    const ws = S.ws;
    S.ws = null;
    clearTimeout(S.retryTimer);
    if (ws) try { ws.close(1000); } catch (_) { /* already closing */ }
    setConn('closed');
  }

  async function onClose(code, opened) {
    if (S.stopped) return;
    if (code === 4001) {
      S.stopped = true;
      setConn('closed', '已被替换', 'replaced by another desk');
      $('desk-view').classList.add('inactive'); // this window no longer owns the work
      showBanner('已在其他窗口登录 (replaced by another desk)', '在此窗口继续 use this window', start);
      return;
    }
    if (code === 4002) { showLogin('登录已过期或已退出，请重新登录 (session ended, please log in again)'); return; }
    // A socket refused before the upgrade shows up as 1006 without an open;
    // the browser hides the HTTP status, so ask the endpoint over plain HTTP.
    if (!opened && await tokenRejected() && !S.stopped) {
      showLogin('登录已过期，请重新登录 (token expired, please log in again)');
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
    if (S.stopped) return;
    const delay = S.backoff / 2 + Math.random() * S.backoff / 2;
    S.backoff = Math.min(S.backoff * 2, BACKOFF_MAX);
    setConn('closed', `重连中 ${(delay / 1000).toFixed(1)} 秒`, 'reconnecting');
    S.retryTimer = setTimeout(connect, delay);
  }

  // heartbeat pings the server and drops a socket that has gone silent.
  function heartbeat() {
    const ws = S.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - S.lastMsgAt > SILENCE_LIMIT) {
      S.ws = null;
      try { ws.close(4000, 'silent'); } catch (_) { /* ignore */ }
      setConn('closed');
      scheduleReconnect();
      return;
    }
    send('ping', {}, false);
  }

  // send sends one message with a fresh ref and remembers it until the
  // server answers with ack or error. It returns the ref, or null.
  function send(type, fields = {}, track = true) {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) {
      toast('未连接服务器，请稍后再试 (not connected)', 'error');
      return null;
    }
    const ref = `d${++S.refSeq}`;
    S.ws.send(JSON.stringify(Object.assign({ type, ref }, fields)));
    if (track) {
      S.pending.set(ref, { type, contact: fields.contact });
      if (fields.contact) setBusy(fields.contact, true);
    }
    return ref;
  }

  function setBusy(tn, on) {
    if (on) S.busy.add(tn); else S.busy.delete(tn);
    updateOfferButtons(tn);
    if (tn === S.selected) updateWrapupButtons();
  }

  // ------------------------------------------------------------- messages

  const handlers = {
    hello(m) {
      S.agent = m.agent || S.agent;
      S.skew = m.server_time ? Date.parse(m.server_time) - Date.now() : 0;
      if (Number.isNaN(S.skew)) S.skew = 0;
      S.backoff = BACKOFF_MIN;
      $('node').textContent = m.node || '–';
      renderAgent();
      $('queues-box').hidden = !(S.agent && S.agent.supervisor);
      if (S.agent && S.agent.supervisor) refreshQueues();
      // The server now resends state, assigned and offers: start clean,
      // and come back to the contact that was on screen when it arrives.
      if (S.selected) S.selectNext = S.selected;
      resetWork(true);
    },
    state(m) { renderState(m); },
    offer(m) { if (m.contact && m.contact.tracking_no) addOffer(m.contact, m.expires_at); },
    assigned(m) {
      const c = m.contact;
      if (!c || !c.tracking_no) return;
      removeOffer(c.tracking_no);
      upsertContact(c);
    },
    rescinded(m) {
      if (!S.offers.has(m.contact)) return;
      removeOffer(m.contact);
      toast(`来件 ${m.contact} 已撤回：${RESCIND_REASONS[m.reason] || m.reason} (rescinded: ${m.reason})`, 'warn');
    },
    ended(m) {
      const c = S.contacts.get(m.contact);
      if (!c) return;
      c.state = 'wrapup';
      if (m.reason) c.hangup = m.reason; // shown in the detail after the toast has gone
      if (c.talkStart && !(c.talk_seconds > 0)) c.talk_seconds = (serverNow() - c.talkStart) / 1000;
      renderContacts();
      if (m.contact === S.selected) renderDetail();
      if (c.channel === 'voice') toast(`${m.contact} 通话已结束（${HANGUP_BY[m.reason] || m.reason || ''}），请整理办结`, 'info');
    },
    closed(m) {
      if (!S.contacts.has(m.contact)) return;
      removeContact(m.contact);
      toast(`${m.contact} 已办结${m.outcome ? '：' + labelOf(OUTCOMES, m.outcome) : ''}`, 'info');
    },
    ack(m) {
      const p = S.pending.get(m.ref);
      if (!p) return;
      S.pending.delete(m.ref);
      if (p.contact) setBusy(p.contact, false);
      if (p.type === 'end' && S.contacts.has(p.contact)) {
        S.contacts.get(p.contact).state = 'wrapup';
        renderContacts();
        if (p.contact === S.selected) renderDetail();
      }
    },
    message(m) {
      const c = S.contacts.get(m.contact) || (S.offers.get(m.contact) || {}).contact;
      if (!c || !m.message) return;
      c.messages = (c.messages || []).concat([m.message]);
      if (m.contact === S.selected) renderConversation(c);
      if (m.message.from === 'citizen') toast(`${m.contact} 有新消息 (new message)`, 'info');
    },
    alert(m) {
      if (m.kind === 'cluster') { // a common problem growing fast (共性问题), not an emergency
        toast(`共性问题预警：${m.text || ''}（最新 ${m.contact}）`, 'error');
        return;
      }
      toast(`紧急情况 ${m.contact}：${m.text || ''} (${m.kind || 'emergency'})`, 'error');
    },
    pong() {},
    error(m) {
      const p = m.ref ? S.pending.get(m.ref) : null;
      if (p) {
        S.pending.delete(m.ref);
        if (p.contact) setBusy(p.contact, false);
        if (p.type === 'accept' && S.selectNext === p.contact) S.selectNext = null;
      }
      toast(`错误 ${m.code || 'error'}: ${m.message || ''}`, 'error');
    },
  };

  function dispatch(m) {
    const h = handlers[m.type];
    if (h) h(m);
  }

  // resetWork forgets offers and contacts (on hello, since the server sends
  // them again, and on logout). Drafts survive a reconnect.
  function resetWork(keepDrafts = false) {
    S.offers.clear();
    clear($('offers'));
    S.contacts.clear();
    S.pending.clear();
    S.busy.clear();
    if (!keepDrafts) { S.drafts.clear(); S.selected = null; }
    renderOffersMeta();
    renderContacts();
    renderDetail();
  }

  // ---------------------------------------------------------- status bar

  function renderAgent() {
    const a = S.agent || {};
    $('agent-name').textContent = a.name || '';
    $('agent-id').textContent = a.id || '';
  }

  function renderState(m) {
    const code = m.state || 'logged_out';
    const box = $('state');
    box.dataset.state = code;
    clear(box);
    box.append(el('b', {}, STATES[code] || code), ' ', small(code.replace('_', code === 'wrap_up' ? '-' : ' ')));
    const reason = code === 'not_ready' && m.reason ? REASONS[m.reason] || m.reason : '';
    $('state-reason').textContent = reason;
    $('state-reason').title = code === 'not_ready' && m.reason ? m.reason : '';
    $('state-misses').hidden = !(m.misses > 0);
    $('state-misses').textContent = m.misses > 0 ? `漏接 ${m.misses} missed` : '';
    if (m.since) box.title = `自 since ${fmtTime(m.since)}`;
    renderPhone(m);
    $('btn-ready').disabled = code === 'ready';
    renderLoad(m.load || {});
  }

  // renderPhone shows whether the agent's SIP phone is registered: calls are
  // offered only then, so an agent sees why none come. Shown to agents who
  // take calls (capacity for voice) or whose phone is registered.
  function renderPhone(m) {
    const box = $('phone');
    const cap = (S.agent && S.agent.capacity) || {};
    const on = m.phone === true;
    box.hidden = m.state === 'logged_out' || !(on || cap.voice > 0);
    box.dataset.phone = on ? 'on' : 'off';
    box.textContent = on ? '话机已注册' : '话机未注册';
    box.title = on ? '话机在线，可以接听来电 (phone registered)' : '话机未注册，不会分配来电，请检查话机 (phone not registered: no calls are offered)';
  }

  // renderLoad shows "n/capacity" per channel the agent has capacity for.
  function renderLoad(load) {
    const cap = (S.agent && S.agent.capacity) || {};
    const channels = Object.keys(CHANNELS).filter((c) => cap[c] > 0 || load[c] > 0);
    for (const c of Object.keys(load)) if (!channels.includes(c)) channels.push(c);
    const box = $('load');
    clear(box);
    for (const c of channels) {
      const n = load[c] || 0;
      const full = cap[c] > 0 && n >= cap[c];
      box.append(el('span', { className: `load-item${full ? ' full' : ''}`, data: { channel: c }, title: c },
        `${CHANNELS[c] || c} `, el('b', {}, cap[c] > 0 ? `${n}/${cap[c]}` : String(n))));
    }
  }

  function showBanner(text, actionLabel, action) {
    $('banner-text').textContent = text;
    const btn = $('banner-action');
    btn.hidden = !actionLabel;
    btn.textContent = actionLabel || '';
    btn.onclick = action ? () => { hideBanner(); action(); } : null;
    $('banner').hidden = false;
  }

  function hideBanner() { $('banner').hidden = true; }

  // ---------------------------------------------------------------- offers

  function addOffer(c, expiresAt) {
    const tn = c.tracking_no;
    const old = S.offers.get(tn);
    if (old) old.card.remove();
    const exp = Date.parse(expiresAt);
    const offer = { contact: c, expiresAt: exp, total: Math.max(1000, exp - serverNow()), card: null };
    offer.card = buildOfferCard(offer);
    S.offers.set(tn, offer);
    $('offers').append(offer.card);
    tickOffers();
    renderOffersMeta();
  }

  function buildOfferCard(offer) {
    const c = offer.contact;
    const tn = c.tracking_no;
    const text = String(c.text || '');
    const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    const citizen = c.citizen || {};
    const accept = el('button', { type: 'button', className: 'accept primary' }, '接受 ', small('accept · A'));
    const reject = el('button', { type: 'button', className: 'reject' }, '拒绝 ', small('reject · R'));
    accept.addEventListener('click', () => acceptOffer(tn));
    reject.addEventListener('click', () => rejectOffer(tn));
    return el('div', { className: 'offer-card', data: { offer: tn }, attrs: { role: 'group', 'aria-label': `新来件 ${tn}` } },
      el('div', { className: 'offer-head' },
        el('span', { className: 'chip' }, channelLabel(c.channel)),
        c.callback ? el('span', { className: 'chip urgent', title: '来电人的通话已中断，请回拨' }, '回拨 callback') : null,
        el('span', { className: 'offer-line' }, lineOf(c)),
        el('span', { className: 'countdown', attrs: { 'aria-label': '剩余时间 (time left)' } })),
      el('div', { className: 'offer-bar' }, el('span')),
      el('div', { className: 'offer-subject' }, c.subject || (c.channel === 'voice' ? '来电振铃中，接起话机即接受' : '（无主题 no subject）')),
      excerpt ? el('div', { className: 'offer-text' }, excerpt) : null,
      el('div', { className: 'offer-citizen' }, c.channel === 'voice' ? '来电号码 ' : '来件人 ',
        el('span', { className: 'caller' }, callerOf(c) || '—'),
        c.channel === 'voice' && citizen.name ? ` ${citizen.name}` : null,
        c.priority > 0 ? el('span', { className: 'chip urgent' }, `优先 ${c.priority}`) : null,
        (c.history || []).length ? el('span', { className: 'chip repeat' }, `重复来电 ${c.history.length}`) : null),
      el('div', { className: 'offer-buttons' }, accept, reject));
  }

  function removeOffer(tn) {
    const offer = S.offers.get(tn);
    if (!offer) return;
    offer.card.remove();
    S.offers.delete(tn);
    renderOffersMeta();
  }

  function renderOffersMeta() {
    $('offers-empty').hidden = S.offers.size > 0;
    document.title = S.offers.size > 0 ? `（新来件）${BASE_TITLE}` : BASE_TITLE;
  }

  // tickOffers updates every countdown; an expired card waits for the
  // server's `rescinded`, and goes anyway if that never comes.
  function tickOffers() {
    const now = serverNow();
    for (const [tn, offer] of S.offers) {
      const left = offer.expiresAt - now;
      const secs = Math.max(0, Math.ceil(left / 1000));
      const card = offer.card;
      card.querySelector('.countdown').textContent = left > 0 ? `${secs} 秒` : '已超时 expired';
      card.querySelector('.offer-bar span').style.width = `${Math.max(0, Math.min(100, left / offer.total * 100))}%`;
      card.classList.toggle('urgent', left > 0 && left < 10000);
      card.classList.toggle('expired', !(left > 0));
      updateOfferButtons(tn);
      if (left < -15000) removeOffer(tn);
    }
  }

  function updateOfferButtons(tn) {
    const offer = S.offers.get(tn);
    if (!offer) return;
    const off = S.busy.has(tn) || !(offer.expiresAt > serverNow());
    for (const b of offer.card.querySelectorAll('button')) b.disabled = off;
  }

  function acceptOffer(tn) {
    if (!S.offers.has(tn) || S.busy.has(tn)) return;
    if (send('accept', { contact: tn })) S.selectNext = tn;
  }

  function rejectOffer(tn) {
    if (!S.offers.has(tn) || S.busy.has(tn)) return;
    send('reject', { contact: tn });
  }

  // oldestOffer is the first offer still open (Map keeps arrival order).
  function oldestOffer() {
    for (const [tn, offer] of S.offers) if (offer.expiresAt > serverNow() && !S.busy.has(tn)) return tn;
    return null;
  }

  // -------------------------------------------------------------- contacts

  function upsertContact(c) {
    // A call being talked gets a clock: from now, less what the server counted.
    const had = S.contacts.get(c.tracking_no);
    if (c.channel === 'voice' && c.state !== 'wrapup') {
      c.talkStart = (had && had.talkStart) || serverNow() - (c.talk_seconds || 0) * 1000;
    }
    S.contacts.set(c.tracking_no, c);
    if (S.selectNext === c.tracking_no || !S.selected || !S.contacts.has(S.selected)) {
      S.selectNext = null;
      select(c.tracking_no);
      return;
    }
    renderContacts();
    if (c.tracking_no === S.selected) renderDetail();
  }

  function removeContact(tn) {
    S.contacts.delete(tn);
    S.drafts.delete(tn);
    S.busy.delete(tn);
    if (S.selected === tn) {
      const next = S.contacts.keys().next();
      S.selected = next.done ? null : next.value;
      renderDetail();
      loadDraft();
    }
    renderContacts();
  }

  function select(tn) {
    if (tn === S.selected) { renderContacts(); renderDetail(); return; }
    S.selected = tn;
    renderContacts();
    renderDetail();
    loadDraft();
  }

  function renderContacts() {
    const list = $('contacts');
    clear(list);
    for (const [tn, c] of S.contacts) {
      const current = tn === S.selected;
      const btn = el('button', { type: 'button', className: 'contact-btn', attrs: { 'aria-current': current ? 'true' : 'false' } },
        el('span', { className: 'contact-top' },
          el('span', { className: 'chip' }, CHANNELS[c.channel] || c.channel || '?'),
          el('span', { className: 'contact-tn' }, tn),
          phaseChip(c)),
        el('span', { className: 'contact-subject' }, subjectOf(c)));
      btn.addEventListener('click', () => select(tn));
      list.append(el('li', { className: current ? 'selected' : '', data: { contact: tn } }, btn));
    }
    $('contacts-count').textContent = String(S.contacts.size);
    $('contacts-empty').hidden = S.contacts.size > 0;
  }

  // phaseChip marks a contact in wrap-up, and a call still being talked.
  function phaseChip(c) {
    if (c.state === 'wrapup') return el('span', { className: 'chip phase' }, '话后');
    if (c.channel === 'voice') {
      return el('span', { className: 'chip talking', data: { talkStart: String(c.talkStart || serverNow()) } },
        `通话中 ${fmtClock(serverNow() - (c.talkStart || serverNow()))}`);
    }
    return null;
  }

  // renderDetail shows the selected contact. The wrap-up form is not
  // rebuilt here, so a note being typed survives updates to the contact.
  function renderDetail() {
    const c = S.selected ? S.contacts.get(S.selected) : null;
    $('detail-empty').hidden = !!c;
    $('detail-body').hidden = !c;
    if (!c) {
      for (const id of ['detail-tracking', 'detail-subject', 'detail-text']) $(id).textContent = '';
      return;
    }
    $('detail').dataset.contact = c.tracking_no;
    $('detail-tracking').textContent = c.tracking_no;
    $('detail-channel').textContent = channelLabel(c.channel);
    const talking = c.channel === 'voice' && c.state !== 'wrapup';
    $('detail-phase').hidden = c.state !== 'wrapup' && !talking;
    $('detail-phase').className = talking ? 'chip talking' : 'chip phase';
    if (talking) $('detail-phase').dataset.talkStart = String(c.talkStart || serverNow());
    else delete $('detail-phase').dataset.talkStart;
    $('detail-phase').textContent = talking ? `通话中 ${fmtClock(serverNow() - (c.talkStart || serverNow()))}` : '话后 wrap-up';
    $('detail-subject').textContent = c.subject || (c.channel === 'voice' ? subjectOf(c) : '（无主题 no subject）');
    $('detail-text').textContent = c.text || '';
    $('detail-text-box').hidden = !c.text;
    renderMeta(c);
    renderAttachments(c.attachments || [], c.tracking_no);
    renderHistory(c.history || []);
    renderConversation(c);
    updateWrapupButtons();
  }

  const REPLY_CHANNELS = new Set(['sms', 'wechat', 'mailbox', 'web']);
  const FROM = { citizen: '来件人 citizen', agent: '坐席 agent', system: '系统 system' };
  const STATUS = { sent: '已发出 sent', delivered: '已送达 delivered', failed: '未发出/未送达 failed' };

  // renderConversation shows the messages after the first one, and the
  // reply box where the channel can carry a reply.
  function renderConversation(c) {
    const list = c.messages || [];
    const ol = $('detail-conversation');
    clear(ol);
    $('detail-conversation-box').hidden = list.length === 0;
    $('detail-conversation-count').textContent = String(list.length);
    for (const msg of list) {
      const who = FROM[msg.from] || msg.from || '';
      const head = [who, msg.agent || '', fmtTime(msg.at), STATUS[msg.status] || msg.status || ''].filter(Boolean).join(' · ');
      const li = el('li', { className: `msg from-${msg.from || 'other'}` }, el('div', { className: 'msg-head muted' }, head));
      if (msg.text) li.append(el('div', { className: 'msg-text' }, msg.text));
      for (const a of msg.attachments || []) {
        li.append(el('div', {}, attachmentLink(c.tracking_no, a, a.name || '附件')));
      }
      ol.append(li);
    }
    $('reply-form').hidden = !REPLY_CHANNELS.has(c.channel) || c.state === 'closed';
  }

  function onReply(ev) {
    ev.preventDefault();
    const tn = S.selected;
    const text = $('reply-text').value.trim();
    if (!tn || !text) return;
    if (send('reply', { contact: tn, text })) {
      $('reply-text').value = '';
      $('reply-count').textContent = '0/2000';
    }
  }

  function renderMeta(c) {
    const citizen = c.citizen || {};
    const loc = c.location || {};
    const coords = loc.lat || loc.lng ? `${loc.lat}, ${loc.lng}` : '';
    const voice = c.channel === 'voice';
    const rows = [
      voice ? ['来电号码', 'caller', callerOf(c)] : null,
      voice && c.callback ? ['回拨', 'callback', '来电人的通话已中断，请回拨', 'warn'] : null,
      ['线路', 'line', lineOf(c)],
      ['收到时间', 'received', fmtTime(c.received_at)],
      ['排队时间', 'queued', fmtTime(c.queued_at)],
      ['来件人', 'name', citizen.name],
      voice ? null : ['电话', 'phone', fmtPhone(citizen.phone)],
      ['邮箱', 'email', citizen.email],
      voice ? null : ['来源地址', 'address', citizen.address],
      voice ? ['排队等待', 'wait', fmtSeconds(c.wait_seconds)] : null,
      voice && c.talk_seconds > 0 ? ['通话时长', 'talk', fmtSeconds(c.talk_seconds)] : null,
      voice && c.hangup ? ['通话结束', 'hung up', HANGUP_BY[c.hangup] || c.hangup] : null,
      ['诉求类型（初判）', 'request type', c.request_type ? `${labelOf(REQUEST_TYPES, c.request_type)} ${c.request_type}` : ''],
      ['事发地点', 'location', [loc.address, coords].filter(Boolean).join(' · ')],
      ['队列', 'queue', c.priority > 0 ? `${c.queue || ''} · 优先 ${c.priority}` : c.queue],
    ];
    // An e-mail's sender check (SPF, DKIM, DMARC): the server's sentence,
    // shown as text, marked when the sender is not authenticated.
    const auth = c.sender_auth;
    if (auth && auth.note) rows.push(['发件人验证', 'sender check', auth.note, auth.authenticated ? '' : 'warn']);
    const dl = $('detail-meta');
    clear(dl);
    for (const row of rows) {
      if (!row) continue;
      const [zh, en, value, mark] = row;
      if (!value) continue;
      dl.append(el('div', { className: mark ? `meta-row ${mark}` : 'meta-row' },
        el('dt', {}, zh, ' ', small(en)), el('dd', {}, String(value))));
    }
  }

  // attachmentLink downloads an attachment with the token in the
  // Authorization header (never in a URL) and saves it from a blob URL.
  function attachmentLink(tn, a, label) {
    const link = el('a', { href: '#', className: 'attachment' }, label);
    link.addEventListener('click', async (ev) => {
      ev.preventDefault();
      try {
        const url = `/api/attachments/${encodeURIComponent(a.sha256 || '')}?contact=${encodeURIComponent(tn || '')}`;
        const res = await fetch(url, { headers: { Authorization: `Bearer ${S.token}` }, cache: 'no-store' });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const blob = URL.createObjectURL(await res.blob());
        const save = el('a', { href: blob, download: a.name || 'attachment' });
        document.body.append(save);
        save.click();
        save.remove();
        setTimeout(() => URL.revokeObjectURL(blob), 60000);
      } catch (err) {
        link.title = `下载失败 (download failed): ${err.message}`;
      }
    });
    return link;
  }

  function renderAttachments(list, tn) {
    const ul = $('detail-attachments');
    clear(ul);
    $('detail-attachments-box').hidden = list.length === 0;
    for (const a of list) {
      const link = attachmentLink(tn, a, a.name || a.sha256 || '附件');
      ul.append(el('li', {}, link, ' ', el('span', { className: 'muted' }, [fmtSize(a.size), a.type].filter(Boolean).join(' · '))));
    }
  }

  function renderHistory(list) {
    const tbody = $('detail-history');
    clear(tbody);
    $('detail-history-box').hidden = list.length === 0;
    $('detail-history-count').textContent = String(list.length);
    for (const h of list) {
      tbody.append(el('tr', {},
        el('td', { className: 'mono' }, h.tracking_no || ''),
        el('td', {}, CHANNELS[h.channel] || h.channel || ''),
        el('td', {}, CONTACT_STATES[h.state] || h.state || ''),
        el('td', { className: 'mono' }, fmtTime(h.queued_at || h.received_at)),
        el('td', {}, h.subject || '')));
    }
  }

  // --------------------------------------------------------------- wrap-up

  // loadDraft fills the form for the selected contact from its draft, or
  // from the contact's own request type guess.
  function loadDraft() {
    const tn = S.selected;
    const c = tn ? S.contacts.get(tn) : null;
    const d = (tn && S.drafts.get(tn)) || {};
    const guess = c && REQUEST_TYPES.some((p) => p[0] === c.request_type) ? c.request_type : REQUEST_TYPES[0][0];
    $('wrapup-type').value = d.request_type || guess;
    $('wrapup-outcome').value = d.outcome || OUTCOMES[0][0];
    $('wrapup-note').value = d.note || '';
    updateNoteCount();
    updateWrapupButtons();
  }

  function saveDraft() {
    if (!S.selected) return;
    S.drafts.set(S.selected, {
      request_type: $('wrapup-type').value,
      outcome: $('wrapup-outcome').value,
      note: $('wrapup-note').value,
    });
    updateNoteCount();
  }

  function updateNoteCount() {
    $('wrapup-note-count').textContent = `${$('wrapup-note').value.length}/2000`;
  }

  function updateWrapupButtons() {
    const c = S.selected ? S.contacts.get(S.selected) : null;
    const busy = !c || S.busy.has(c.tracking_no);
    $('btn-wrapup').disabled = busy;
    $('btn-end').disabled = busy || c.state === 'wrapup';
    // For a call, `end` hangs it up: say so.
    const call = !!c && c.channel === 'voice';
    if ($('btn-end').dataset.call !== String(call)) {
      $('btn-end').dataset.call = String(call);
      clear($('btn-end'));
      $('btn-end').append(call ? '挂断 ' : '结束处理 ', small(call ? 'hang up' : 'end'));
    }
  }

  function onWrapup(ev) {
    ev.preventDefault();
    const tn = S.selected;
    if (!tn || S.busy.has(tn)) return;
    send('wrapup', {
      contact: tn,
      request_type: $('wrapup-type').value,
      outcome: $('wrapup-outcome').value,
      note: $('wrapup-note').value.slice(0, 2000),
    });
  }

  function onEnd() {
    const tn = S.selected;
    if (!tn || S.busy.has(tn)) return;
    send('end', { contact: tn });
  }

  // ------------------------------------------------------------- keyboard

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    return ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.isContentEditable;
  }

  // A accepts, R rejects the oldest open offer, unless focus is in a field.
  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat || isTyping(ev.target)) return;
    if ($('desk-view').hidden) return;
    const key = ev.key.toLowerCase();
    if (key !== 'a' && key !== 'r') return;
    const tn = oldestOffer();
    if (!tn) return;
    ev.preventDefault();
    if (key === 'a') acceptOffer(tn); else rejectOffer(tn);
  }

  // ------------------------------------------------------------------ init

  function init() {
    fillSelect($('notready-reason'), NOT_READY_REASONS);
    fillSelect($('wrapup-type'), REQUEST_TYPES);
    fillSelect($('wrapup-outcome'), OUTCOMES);
    renderState({ state: 'logged_out' });

    $('login-form').addEventListener('submit', onLoginSubmit);
    $('btn-logout').addEventListener('click', logout);
    $('btn-ready').addEventListener('click', () => send('ready', {}, false));
    $('btn-notready').addEventListener('click', () => send('not_ready', { reason: $('notready-reason').value }, false));
    $('wrapup-form').addEventListener('submit', onWrapup);
    $('reply-form').addEventListener('submit', onReply);
    $('reply-text').addEventListener('input', () => {
      $('reply-count').textContent = `${$('reply-text').value.length}/2000`;
    });
    $('btn-end').addEventListener('click', onEnd);
    for (const id of ['wrapup-type', 'wrapup-outcome', 'wrapup-note']) {
      $(id).addEventListener('input', saveDraft);
      $(id).addEventListener('change', saveDraft);
    }
    document.addEventListener('keydown', onKey);

    setInterval(tickOffers, 250);
    setInterval(tickTalk, 1000);
    setInterval(refreshQueues, 5000);
    setInterval(heartbeat, PING_EVERY);

    if (S.token) start(); else showLogin('');
  }

  init();
})();
