// The browser phone (浏览器话机): the agent's calls ring here instead of a
// SIP phone when the agent chooses so (kept in localStorage). One media
// session (RTCPeerConnection) is set up when the desk connects and kept for
// the whole login, so a call connects with no new negotiation; it carries
// G.711 both ways (agentdesk/PROTOCOL.md, "The browser phone").
//
// The bar: the choice of phone, the media session's state, the ringing call
// with answer/decline, and during a call the timer, mute, hold, keypad,
// transfer and hang-up, with a level meter each way. A supervisor's silent
// monitor (phone_call monitor true) shows 监听中 with the agent and the
// contact listened to, the incoming meter, and only 停止监听 (monitor_stop).
// Counters a test can read: document.body.dataset.phoneRings (ring sounds
// played), dataset.phoneState (idle, ringing, talking, held, monitoring),
// dataset.phoneMedia.
import { $, el, clear, toast, fmtClock, fmtPhone } from './dom.js';
import { S } from './store.js';
import { send, on } from './socket.js';
import { actions } from './actions.js';
import { callerOf } from './contact.js';
import { contactChanged } from './contacts.js';

const MODE_KEY = 'lianxin.desk.phone';

const P = {
  mode: localStorage.getItem(MODE_KEY) === 'browser' ? 'browser' : 'sip',
  pc: null,
  mic: null,          // the microphone's MediaStream
  remote: null,       // the caller's MediaStream
  audio: null,        // <audio> playing the caller
  ctx: null,          // AudioContext for the meters and the ring
  meters: null,       // {in, out} AnalyserNodes
  call: null,         // the last phone_call message while a call rings or is up
  since: 0,           // when the call was answered (ms)
  offering: false,
  restartTimer: 0,
  ringTimer: 0,
  micError: '',
  xfer: null,         // the last line_transfer message
};

// Microphone and device errors, as the agent should read them.
function micErrorText(err) {
  const name = err && err.name;
  if (!navigator.mediaDevices || !window.RTCPeerConnection) return '此浏览器不支持网页通话，请使用新版 Chrome 或 Edge 浏览器。';
  if (!window.isSecureContext) return '浏览器只允许在安全连接（https）下使用麦克风，请通过 https 地址打开工作台。';
  switch (name) {
    case 'NotAllowedError': case 'PermissionDeniedError':
      return '麦克风权限被拒绝：请点击地址栏左侧的图标，允许本网站使用麦克风，然后点“重新连接”。';
    case 'NotFoundError': case 'DevicesNotFoundError':
      return '没有找到麦克风：请插好耳麦，然后点“重新连接”。';
    case 'NotReadableError': case 'TrackStartError':
      return '麦克风无法使用，可能被其他程序占用：请关闭占用麦克风的程序，然后点“重新连接”。';
    case 'OverconstrainedError':
      return '麦克风不支持所需的设置：请换一副耳麦再试。';
    case 'AbortError':
      return '打开麦克风时被中断：请点“重新连接”。';
    case 'SecurityError':
      return '浏览器的安全设置不允许使用麦克风：请联系管理员。';
    default:
      return `无法打开麦克风（${name || '未知错误'}）：请检查耳麦后点“重新连接”。`;
  }
}

const MEDIA_ZH = {
  new: '未连接', connecting: '连接中', connected: '已连接', disconnected: '连接中断，正在恢复', failed: '连接失败', closed: '已关闭',
};

const ENDED_ZH = {
  caller: '对方已挂断', agent: '已挂断', media_lost: '网络中断', desk_lost: '工作台断线',
  closed: '话机已关闭', shutdown: '服务器维护',
};

const TRANSFER_TO = [['queue', '转队列'], ['agent', '转坐席'], ['110', '110'], ['119', '119'], ['120', '120'], ['122', '122']];

// ---- the media session

async function startMedia() {
  if (P.pc || P.mode !== 'browser') return;
  P.micError = '';
  try {
    if (!navigator.mediaDevices || !window.RTCPeerConnection) throw new Error('unsupported');
    P.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true }, video: false });
  } catch (err) {
    P.micError = micErrorText(err);
    render();
    return;
  }
  const pc = new RTCPeerConnection({ iceServers: [] });
  P.pc = pc;
  for (const t of P.mic.getAudioTracks()) pc.addTrack(t, P.mic);
  pc.ontrack = (ev) => {
    P.remote = ev.streams[0] || new MediaStream([ev.track]);
    P.audio.srcObject = P.remote;
    P.audio.play().catch(() => {});
    meters();
  };
  pc.onconnectionstatechange = () => {
    if (pc !== P.pc) return;
    document.body.dataset.phoneMedia = pc.connectionState;
    if (pc.connectionState === 'failed') restart();
    else if (pc.connectionState === 'disconnected') {
      clearTimeout(P.restartTimer);
      P.restartTimer = setTimeout(() => { if (pc === P.pc && pc.connectionState !== 'connected') restart(); }, 2000);
    }
    render();
  };
  send({ type: 'phone', use: 'browser' });
  await offer(false);
  meters();
}

// offer sends the session's offer once every candidate is gathered (the
// gateway takes no trickled candidates); iceRestart for a dropped session.
async function offer(iceRestart) {
  const pc = P.pc;
  if (!pc || P.offering) return;
  P.offering = true;
  try {
    const o = await pc.createOffer({ iceRestart });
    await pc.setLocalDescription(o);
    if (pc.iceGatheringState !== 'complete') {
      await new Promise((resolve) => {
        const done = () => { if (pc.iceGatheringState === 'complete') { pc.removeEventListener('icegatheringstatechange', done); resolve(); } };
        pc.addEventListener('icegatheringstatechange', done);
        setTimeout(resolve, 3000); // whatever is gathered by then
      });
    }
    if (pc === P.pc) send({ type: 'rtc_offer', sdp: pc.localDescription.sdp });
  } catch (err) {
    toast('网页话机连接失败，请点“重新连接”', 'error', String(err));
  } finally {
    P.offering = false;
  }
}

function restart() {
  if (!P.pc || !isOpenSocket()) return;
  offer(true);
}

function isOpenSocket() { return !!S.agent; }

function stopMedia() {
  clearTimeout(P.restartTimer);
  if (P.pc) P.pc.close();
  P.pc = null;
  if (P.mic) for (const t of P.mic.getTracks()) t.stop();
  P.mic = null;
  P.remote = null;
  if (P.audio) P.audio.srcObject = null;
  P.meters = null;
  document.body.dataset.phoneMedia = 'closed';
}

function choose(mode) {
  if (mode === P.mode) return;
  P.mode = mode;
  try { localStorage.setItem(MODE_KEY, mode); } catch (_) { /* private mode */ }
  if (mode === 'browser') startMedia();
  else { send({ type: 'phone', use: 'sip' }); stopMedia(); }
  render();
}

// ---- levels

function audioCtx() {
  if (!P.ctx) {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    P.ctx = new AC();
  }
  if (P.ctx.state === 'suspended') P.ctx.resume().catch(() => {});
  return P.ctx;
}

function meters() {
  const ctx = audioCtx();
  if (!ctx) return;
  const m = P.meters || {};
  if (P.mic && !m.out) { m.out = ctx.createAnalyser(); m.out.fftSize = 512; ctx.createMediaStreamSource(P.mic).connect(m.out); }
  if (P.remote && !m.in) { m.in = ctx.createAnalyser(); m.in.fftSize = 512; ctx.createMediaStreamSource(P.remote).connect(m.in); }
  P.meters = m;
}

const buf = new Float32Array(512);
function level(an) {
  if (!an) return 0;
  an.getFloatTimeDomainData(buf);
  let e = 0;
  for (const x of buf) e += x * x;
  const rms = Math.sqrt(e / buf.length);
  // dBFS from -60 to 0 on the meter.
  return Math.max(0, Math.min(1, (20 * Math.log10(rms || 1e-9) + 60) / 60));
}

function tickMeters() {
  const m = P.meters || {};
  const talking = P.call && P.call.state === 'talking';
  const inL = talking && !P.call.held ? level(m.in) : 0;
  const outL = talking && !P.call.muted && !P.call.held ? level(m.out) : 0;
  const bi = document.querySelector('#phone .meter-in .fill');
  const bo = document.querySelector('#phone .meter-out .fill');
  if (bi) bi.style.width = `${Math.round(inL * 100)}%`;
  if (bo) bo.style.width = `${Math.round(outL * 100)}%`;
  const d = document.body.dataset;
  d.phoneLevelIn = inL.toFixed(2);
  d.phoneLevelOut = outL.toFixed(2);
  if (P.since) {
    const t = document.querySelector('#phone .phone-timer');
    if (t) t.textContent = fmtClock(Date.now() - P.since);
  }
}

// ---- ringing

function ringOnce() {
  const ctx = audioCtx();
  const d = document.body.dataset;
  if (!ctx || ctx.state !== 'running') { d.phoneRingsBlocked = String(Number(d.phoneRingsBlocked || 0) + 1); return; }
  const t0 = ctx.currentTime + 0.02;
  for (const [f, at] of [[440, 0], [480, 0], [440, 1.2], [480, 1.2]]) {
    const osc = ctx.createOscillator();
    const g = ctx.createGain();
    osc.frequency.value = f;
    g.gain.setValueAtTime(0, t0 + at);
    g.gain.linearRampToValueAtTime(0.12, t0 + at + 0.02);
    g.gain.setValueAtTime(0.12, t0 + at + 0.8);
    g.gain.linearRampToValueAtTime(0, t0 + at + 0.85);
    osc.connect(g).connect(ctx.destination);
    osc.start(t0 + at);
    osc.stop(t0 + at + 0.9);
  }
  d.phoneRings = String(Number(d.phoneRings || 0) + 1);
}

function startRinging() {
  if (P.ringTimer) return;
  ringOnce();
  P.ringTimer = setInterval(ringOnce, 4000);
}

function stopRinging() {
  clearInterval(P.ringTimer);
  P.ringTimer = 0;
}

// ---- the server's messages

function onCall(m) {
  const was = P.call && P.call.state;
  const wasMonitor = !!(P.call && P.call.monitor);
  if (m.state === 'ended') {
    stopRinging();
    P.call = null;
    P.since = 0;
    if (P.mic) for (const t of P.mic.getAudioTracks()) t.enabled = true;
    // The desk says who ended a call (the contact's `ended`); the phone adds only what it alone knows.
    if (wasMonitor) toast('监听已结束', 'info');
    else if (was === 'talking' && m.reason !== 'agent' && m.reason !== 'caller') {
      toast(`通话结束：${ENDED_ZH[m.reason] || '其他原因'}`, m.reason === 'media_lost' ? 'error' : 'info', m.reason || '');
    }
    else if (was === 'ringing' && m.reason === 'caller') toast('来电已取消（对方挂断或振铃超时）', 'info');
  } else {
    P.call = m;
    if (m.state === 'ringing') startRinging();
    if (m.state === 'talking') {
      stopRinging();
      if (was !== 'talking') P.since = Date.now();
      // Listening in, the supervisor's microphone is off (the gateway drops it anyway).
      if (P.mic) for (const t of P.mic.getAudioTracks()) t.enabled = !m.muted && !m.monitor;
    }
  }
  render();
}

function onAnswer(m) {
  if (!P.pc || !m.sdp) return;
  P.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }).catch((err) => toast('网页话机连接失败', 'error', String(err)));
}

const PHONE_ERRORS = {
  no_softphone: '本服务器未开启网页话机，请使用 SIP 话机',
  phone_closed: '网页话机未连接，请点“重新连接”',
  no_call: '当前没有来电',
  not_ringing: '来电已不在振铃',
  not_talking: '当前没有通话',
  no_media: '网页话机的媒体连接尚未建立，请稍候再接听',
  bad_offer: '浏览器的音频设置不被支持（需要 G.711）',
  no_dtmf: '对方线路不支持按键',
};

function onError(m, req) {
  if (!req) return;
  if (req.type === 'transfer') {
    toast(`转接失败：${m.message || m.code}`, 'error', m.code);
    return;
  }
  if (req.type === 'monitor_stop') {
    toast(m.code === 'not_monitoring' ? '当前没有在监听' : `停止监听失败（${m.code}）`, 'error', m.message || '');
    return;
  }
  if (!req.type.startsWith('phone') && req.type !== 'rtc_offer') return;
  toast(PHONE_ERRORS[m.code] || `话机操作失败（${m.code}）`, 'error', m.message || '');
  if (req.type === 'phone' && m.code === 'no_softphone') { P.mode = 'sip'; stopMedia(); render(); }
}

// A transfer to an emergency line, step by step from the node holding the
// call (line_transfer): why one failed or was refused, as the agent should
// read it, and what became of the caller.
const LINE_FAILED_ZH = { busy: '对方占线', no_answer: '无人接听', unreachable: '线路不通', caller_gone: '来电人已挂断' };
const LINE_REFUSED_ZH = {
  not_in_talk: '通话未接通或已结束', no_target: '该线路未配置转接号码', callback: '回拨的通话不能由系统转出', gone: '通话已结束',
};
const LINE_TRIED = new Set(['busy', 'no_answer', 'unreachable']);
// The same, short, for the phone bar (its title has the whole sentence).
const LINE_FAILED_SHORT = { busy: '占线', no_answer: '无人接听', unreachable: '不通', caller_gone: '来电人已挂断' };

function lineFailedText(m) {
  const why = LINE_FAILED_ZH[m.reason] || m.reason || '原因不明';
  let after = '';
  if (LINE_TRIED.has(m.reason)) after = m.mode === 'warm' ? '，您仍在与来电人通话' : '，来电已回到队列优先等待';
  return `转${m.to}未成功：${why}${after}`;
}

function onLineTransfer(m) {
  // A request the node refused did nothing: whatever went on with the call
  // goes on, and the bar keeps showing it. (A node of an earlier version
  // says failed.)
  const refused = m.state === 'refused' ||
    (m.state === 'failed' && (m.reason === 'under_way' || Object.hasOwn(LINE_REFUSED_ZH, m.reason)));
  if (refused) {
    if (m.reason === 'under_way') toast(`已有一个转接正在进行，请等待结果（转${m.to}未重复发出）`, 'info', m.reason);
    else toast(`转${m.to}未转出：${LINE_REFUSED_ZH[m.reason] || m.reason || '原因不明'}`, 'error', m.reason || '');
    return;
  }
  P.xfer = m;
  // A blind transfer hung up the agent's phone: the contact no longer says
  // 通话中 while the caller waits for the line.
  const c = S.contacts.get(m.contact);
  if (c) {
    c.lineOut = m.state === 'calling' && m.mode === 'blind' ? m.to : '';
    contactChanged(m.contact);
  }
  if (m.state === 'calling') {
    toast(m.mode === 'warm' ? `正在呼叫${m.to}，接通前您仍与来电人通话` : `正在呼叫${m.to}，来电人听等待音`, 'info');
  } else if (m.state === 'connected') {
    toast(`${m.to}已接通，来电已转出`, 'info');
  } else if (m.state === 'failed') {
    toast(lineFailedText(m), 'error', m.reason || '');
  }
  render();
}

function onAck(m, req) {
  if (req && req.type === 'transfer') {
    toast('转接已提交', 'info');
    $('phone-transfer')?.close?.();
  }
}

// ---- controls

function answer() {
  if (!P.call || P.call.state !== 'ringing') return false;
  audioCtx();
  send({ type: 'phone_answer' });
  return true;
}

function hangup() {
  if (!P.call) return false;
  if (P.call.monitor) return stopMonitor();
  send({ type: 'phone_hangup' });
  return true;
}

// stopMonitor ends the supervisor's listening in (the only control of a monitor).
function stopMonitor() {
  if (!P.call || !P.call.monitor) return false;
  send({ type: 'monitor_stop' });
  return true;
}

function mute() {
  if (!P.call || P.call.state !== 'talking' || P.call.monitor) return false;
  send({ type: 'phone_mute', on: !P.call.muted });
  return true;
}

function hold() {
  if (!P.call || P.call.state !== 'talking' || P.call.monitor) return;
  send({ type: 'phone_hold', on: !P.call.held });
}

function dtmf(d) {
  if (!P.call || P.call.state !== 'talking' || P.call.monitor) return;
  send({ type: 'phone_dtmf', digit: d });
  const shown = document.querySelector('#phone .keypad-digits');
  if (shown) shown.textContent = (shown.textContent + d).slice(-16);
}

// sipTalk is the call the agent talks on with a SIP phone: the desk's
// contact of a call in talk (not a callback, which the gateway does not
// transfer to a line). The bar then offers the transfers; the phone's own
// keys do the rest.
function sipTalk() {
  if (P.mode === 'browser') return null;
  for (const c of S.contacts.values()) {
    if (c.channel === 'voice' && c.state === 'assigned' && !c.callback) return c;
  }
  return null;
}

// transferable is the tracking number of the call a transfer is for: the
// browser phone's call in talk, or the SIP phone's ('' for none).
function transferable() {
  if (P.call && P.call.contact && !P.call.monitor) return P.call.contact;
  const c = sipTalk();
  return c ? c.tracking_no : '';
}

function openTransfer() {
  const tn = transferable();
  if (!tn) return;
  const dlg = $('phone-transfer');
  dlg.querySelector('[name=contact]').value = tn;
  if (typeof dlg.showModal === 'function') dlg.showModal();
}

function sendTransfer(ev) {
  ev.preventDefault();
  const f = ev.target;
  const to = f.querySelector('[name=to]').value;
  const msg = { type: 'transfer', contact: f.querySelector('[name=contact]').value, to,
    note: f.querySelector('[name=note]').value, mode: f.querySelector('[name=mode]').value };
  if (to === 'queue') msg.queue = f.querySelector('[name=queue]').value.trim();
  if (to === 'agent') msg.agent = f.querySelector('[name=agent]').value.trim();
  send(msg);
}

// quickTransfer sends a blind transfer to an emergency line in one click.
function quickTransfer(to) {
  const tn = transferable();
  if (!tn) return;
  send({ type: 'transfer', contact: tn, to, note: '', mode: 'blind' });
}

// ---- rendering

function btn(label, cls, fn, title = '') {
  const b = el('button', { type: 'button', className: cls, title }, label);
  b.addEventListener('click', fn);
  return b;
}

function render() {
  const bar = $('phone');
  if (!bar) return;
  clear(bar);
  bar.classList.toggle('monitoring', !!(P.call && P.call.monitor));
  const d = document.body.dataset;
  d.phoneMode = P.mode;
  const state = !P.call ? 'idle' : P.call.monitor ? 'monitoring'
    : P.call.state === 'talking' && P.call.held ? 'held' : P.call.state;
  d.phoneState = state;
  if (!S.agent) return;
  const choice = el('div', { className: 'phone-choice', attrs: { role: 'radiogroup', 'aria-label': '接听方式' } },
    el('span', { className: 'phone-label' }, '接听：'),
    btn('SIP 话机', P.mode === 'sip' ? 'seg on' : 'seg', () => choose('sip'), '来电振铃到已注册的 SIP 话机'),
    btn('浏览器', P.mode === 'browser' ? 'seg on' : 'seg', () => choose('browser'), '来电在本页振铃，用耳麦接听'));
  // During a call the choice cannot change: it gives its room to the controls.
  const sip = sipTalk();
  if (!P.call && !sip) bar.append(choice);
  if (P.mode !== 'browser') {
    // A SIP phone's call: who, and the transfers (the desk's; the node holding the call does them).
    if (sip) {
      // A blind transfer has hung the phone up already: the caller waits for the line.
      const out = P.xfer && P.xfer.contact === sip.tracking_no && P.xfer.state === 'calling' && P.xfer.mode === 'blind';
      bar.append(el('span', { className: 'phone-who' }, out ? '转出中 ' : 'SIP 话机通话中 ', el('b', {}, callerOf(sip))),
        xferBadge(sip.tracking_no), ...transferButtons());
    }
    return;
  }

  if (P.micError) {
    bar.append(el('span', { className: 'phone-error', attrs: { role: 'alert' } }, P.micError),
      btn('重新连接', '', () => { stopMedia(); startMedia(); }));
    return;
  }
  const media = P.pc ? P.pc.connectionState : 'new';
  bar.append(el('span', { className: 'phone-media', data: { media } }, `媒体：${MEDIA_ZH[media] || media}`));
  if (media === 'failed' || (!P.pc && !P.offering)) bar.append(btn('重新连接', '', () => { stopMedia(); startMedia(); }));

  if (!P.call) {
    bar.append(el('span', { className: 'phone-idle' }, '等待来电'));
    return;
  }
  // The contact (offered or held) has the full number; the phone's message a masked one.
  const c = P.call.contact && ((S.offers.get(P.call.contact) || {}).contact || S.contacts.get(P.call.contact));
  const who = c ? callerOf(c) : P.call.caller ? fmtPhone(P.call.caller) : '号码未显示';
  if (P.call.state === 'ringing') {
    bar.classList.add('ringing');
    bar.append(el('span', { className: 'phone-who' }, '来电 ', el('b', {}, who), P.call.contact ? ` · ${P.call.contact}` : ''),
      btn('接听', 'primary answer', answer, '快捷键 Alt+A'),
      btn('拒接', 'danger decline', hangup));
    return;
  }
  bar.classList.remove('ringing');
  if (P.call.monitor) {
    bar.append(
      el('span', { className: 'phone-who phone-monitor', title: '只听不说：通话双方听不到您' }, '监听中 ',
        el('b', {}, P.call.agent ? `坐席 ${P.call.agent}` : '坐席'),
        P.call.contact ? ` · 来电 ${P.call.contact}` : '',
        el('span', { className: 'phone-timer' }, '0:00')),
      el('span', { className: 'meter meter-in', title: '通话音量' }, el('i', {}, '听'),
        el('span', { className: 'track' }, el('span', { className: 'fill' }))),
      el('span', { className: 'phone-idle' }, '通话双方听不到您'),
      btn('停止监听', 'danger monitor-stop', stopMonitor, '快捷键 Alt+H'));
    tickMeters();
    return;
  }
  const held = P.call.held;
  const xfer = xferBadge(P.call.contact);
  const keypad = el('div', { className: 'keypad', attrs: { role: 'group', 'aria-label': '拨号键盘' } },
    ...'123456789*0#'.split('').map((k) => btn(k, 'key', () => dtmf(k), `按键 ${k}`)));
  bar.append(
    el('span', { className: 'phone-who' }, held ? '保持中 ' : '通话中 ', el('b', {}, who),
      el('span', { className: 'phone-timer' }, '0:00')),
    xfer,
    el('span', { className: 'meter meter-in', title: '对方音量' }, el('i', {}, '听'),
      el('span', { className: 'track' }, el('span', { className: 'fill' }))),
    el('span', { className: 'meter meter-out', title: '我的音量' }, el('i', {}, '说'),
      el('span', { className: 'track' }, el('span', { className: 'fill' }))),
    btn(P.call.muted ? '取消静音' : '静音', P.call.muted ? 'mute on' : 'mute', mute, '快捷键 Alt+M'),
    btn(held ? '恢复通话' : '保持', held ? 'hold on' : 'hold', hold, '对方听等待音乐'),
    btn('挂断', 'danger hangup', hangup, '快捷键 Alt+H'),
    keypad,
    el('span', { className: 'keypad-digits', attrs: { 'aria-live': 'polite' } }),
    ...transferButtons());
  tickMeters();
}

function transferButtons() {
  return [btn('转接…', 'transfer', openTransfer),
    ...['110', '119', '120', '122'].map((n) => btn(`转${n}`, 'quick', () => quickTransfer(n), `一键转 ${n}`))];
}

// xferBadge is the transfer to a line of call tn, while it rings there or
// once it failed ('' for none).
function xferBadge(tn) {
  const x = P.xfer && P.xfer.contact === tn && P.xfer.state !== 'connected' ? P.xfer : null;
  if (!x) return '';
  return el('span', { className: 'phone-xfer', data: { state: x.state },
    title: x.state === 'calling' ? `正在呼叫${x.to}` : lineFailedText(x), attrs: { role: 'status', 'aria-live': 'polite' } },
  x.state === 'calling' ? `呼叫${x.to}…` : `转${x.to}失败：${LINE_FAILED_SHORT[x.reason] || '原因不明'}`);
}

function buildTransferDialog() {
  const select = el('select', { name: 'to' });
  for (const [v, zh] of TRANSFER_TO) select.append(el('option', { value: v }, zh));
  const modeSel = el('select', { name: 'mode' }, el('option', { value: 'blind' }, '直接转'), el('option', { value: 'warm' }, '先咨询再转'));
  const form = el('form', { className: 'transfer-form' },
    el('h2', {}, '转接来电'),
    el('input', { type: 'hidden', name: 'contact' }),
    el('label', {}, '转到 ', select),
    el('label', { className: 'to-queue' }, '队列 ', el('input', { name: 'queue', placeholder: '队列名，如 general' })),
    el('label', { className: 'to-agent' }, '坐席工号 ', el('input', { name: 'agent', inputMode: 'numeric' })),
    el('label', {}, '方式 ', modeSel),
    el('label', {}, '备注 ', el('textarea', { name: 'note', rows: 2, maxLength: 500 })),
    el('div', { className: 'dialog-buttons' },
      el('button', { type: 'submit', className: 'primary' }, '转接'),
      btn('取消', '', () => dlg.close())));
  const dlg = el('dialog', { id: 'phone-transfer', className: 'settings' }, form);
  const sync = () => {
    form.querySelector('.to-queue').hidden = select.value !== 'queue';
    form.querySelector('.to-agent').hidden = select.value !== 'agent';
  };
  select.addEventListener('change', sync);
  sync();
  form.addEventListener('submit', sendTransfer);
  document.body.append(dlg);
}

// The offer card of the ringing call answers and declines on the browser
// phone (accepting it by the desk would leave the phone ringing).
function interceptOfferButtons(ev) {
  if (P.mode !== 'browser' || !P.call || P.call.state !== 'ringing') return;
  const b = ev.target.closest('button');
  const card = ev.target.closest('[data-offer]');
  if (!b || !card || card.dataset.offer !== P.call.contact) return;
  if (b.classList.contains('accept')) { ev.stopPropagation(); ev.preventDefault(); answer(); }
  if (b.classList.contains('reject')) { ev.stopPropagation(); ev.preventDefault(); hangup(); }
}

// stats is the inbound and outbound audio of the media session, for the
// agent's diagnostics (and the tests).
async function stats() {
  const out = { inbound: null, outbound: null, state: P.pc ? P.pc.connectionState : 'none' };
  if (!P.pc) return out;
  const report = await P.pc.getStats();
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.inbound = { packets: s.packetsReceived, bytes: s.bytesReceived, audioLevel: s.audioLevel || 0,
        energy: s.totalAudioEnergy || 0 };
    }
    if (s.type === 'outbound-rtp' && s.kind === 'audio') out.outbound = { packets: s.packetsSent, bytes: s.bytesSent };
  });
  return out;
}

// inboundPeak is the strongest frequency (Hz) of what the agent hears now,
// and its level in dB: a diagnostic of the caller's audio by content.
function inboundPeak() {
  const an = P.meters && P.meters.in;
  if (!an) return { hz: 0, db: -Infinity };
  const bins = new Float32Array(an.frequencyBinCount);
  an.getFloatFrequencyData(bins);
  let best = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return { hz: best * an.context.sampleRate / an.fftSize, db: bins[best] };
}

function init() {
  P.audio = el('audio', { autoplay: true });
  P.audio.hidden = true;
  document.body.append(P.audio);
  document.body.dataset.phoneRings = '0';
  buildTransferDialog();
  $('offers').addEventListener('click', interceptOfferButtons, { capture: true });
  on('hello', () => {
    if (P.mode === 'browser') {
      // A new socket (reconnect) starts a new session: the old one is gone with it.
      stopMedia();
      startMedia();
    }
    render();
  });
  on('state', (m) => {
    // The status bar says "话机已注册" for any phone: name the browser's.
    const box = $('sip-phone');
    if (box && P.mode === 'browser' && m.phone === true) {
      box.textContent = '浏览器话机在线';
      box.title = '来电在本页振铃，用耳麦接听';
    }
    render();
  });
  on('phone_call', onCall);
  on('phone_media', () => render());
  // A call the phone lost went back to the queue: a session that is not
  // connected is replaced by a new one, ready for the next call.
  on('requeued', () => {
    if (P.mode === 'browser' && (!P.pc || P.pc.connectionState !== 'connected')) { stopMedia(); startMedia(); }
  });
  on('rtc_answer', onAnswer);
  on('error', onError);
  on('ack', onAck);
  on('line_transfer', onLineTransfer);
  // A SIP phone's call in talk is the desk's contact: the bar follows it
  // (after the contact list has taken the message).
  for (const t of ['assigned', 'ended', 'closed', 'transferred', 'requeued']) on(t, () => queueMicrotask(render));
  on('socket:ended', () => { stopMedia(); P.call = null; stopRinging(); render(); });
  on('socket:replaced', () => { stopMedia(); P.call = null; stopRinging(); render(); });
  // The entry module sets the default shortcuts after the modules load:
  // wrap them once it has.
  const dflt = { answer: actions.answer, hangup: actions.hangup, mute: actions.mute };
  actions.answer = () => answer() || dflt.answer?.();
  actions.hangup = () => hangup() || dflt.hangup?.();
  actions.mute = () => mute() || dflt.mute?.();
  setInterval(tickMeters, 100);
  // drop() closes the media session as a dead network does, with no ICE restart possible (for tests).
  window.lianxinPhone = { stats, inboundPeak, drop: () => { if (P.pc) P.pc.close(); } };
  render();
}

// Module scripts run before DOMContentLoaded, and the entry module's own
// code after its imports: initialise then, over the default actions.
document.addEventListener('DOMContentLoaded', init);
