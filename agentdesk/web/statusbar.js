// The status bar: who is logged in, their state, phone and load, and the
// banner under it.
import { $, el, clear, fmtTime } from './dom.js';
import { STATES, CHANNELS, reasonLabel } from './labels.js';
import { S } from './store.js';
import { send } from './socket.js';

export function renderAgent() {
  const a = S.agent || {};
  $('agent-name').textContent = a.name || '';
  $('agent-name').title = a.name || ''; // a long name is cut short on screen
  $('agent-id').textContent = a.id || '';
}

export function renderState(m) {
  const code = m.state || 'logged_out';
  const box = $('state');
  box.dataset.state = code;
  clear(box);
  box.append(el('b', {}, STATES[code] || '未知'));
  const reason = code === 'not_ready' && m.reason ? reasonLabel(m.reason) : '';
  $('state-reason').textContent = reason;
  $('state-reason').title = reason;
  // Not ready asked for while work is still open: it takes effect when the
  // work is done (no new offers meanwhile).
  const pending = m.presence === 'not_ready' && ['offered', 'busy', 'wrap_up'].includes(code);
  $('state-pending').hidden = !pending;
  $('state-pending').textContent = pending ? `待未就绪·${reasonLabel(m.reason || 'busy')}` : '';
  $('state-pending').title = pending ? '已申请未就绪：不再分配新来件，手上的工作完成后转为未就绪' : '';
  $('state-misses').hidden = !(m.misses > 0);
  $('state-misses').textContent = m.misses > 0 ? `漏接 ${m.misses}` : '';
  $('state-misses').title = m.misses > 0 ? `连续漏接 ${m.misses} 次` : '';
  if (m.since) box.title = `自 ${fmtTime(m.since)}`;
  renderPhone(m);
  // The login ran out while work was open: the work is finished, nothing
  // new comes, and the desk closes when it is done (the server refuses a
  // change of presence meanwhile).
  const expiring = m.presence === 'not_ready' && m.reason === 'login_expired';
  $('btn-ready').disabled = code === 'ready' || expiring;
  $('btn-notready').disabled = expiring;
  $('notready-reason').disabled = expiring;
  // (The strip under the status bar says so and offers to renew: renew.js.)
  // Set not ready for missed offers: say so where it cannot be missed.
  const missed = code === 'not_ready' && m.reason === 'missed_offers';
  const kind = $('banner').dataset.kind;
  if (missed && kind !== 'missed') {
    showBanner('连续漏接来件，系统已将您设为未就绪。准备好后请点“就绪”继续接件。', '就绪',
      () => send({ type: 'ready' }, { track: false }));
    $('banner').dataset.kind = 'missed';
  } else if (!missed && kind === 'missed') {
    hideBanner();
  }
  renderLoad(m.load || {});
}

// renderPhone shows whether the agent's SIP phone is registered: calls are
// offered only then, so an agent sees why none come. Shown to agents who
// take calls (capacity for voice) or whose phone is registered.
function renderPhone(m) {
  const box = $('sip-phone');
  const cap = (S.agent && S.agent.capacity) || {};
  const on = m.phone === true;
  box.hidden = m.state === 'logged_out' || !(on || cap.voice > 0);
  box.dataset.phone = on ? 'on' : 'off';
  box.textContent = on ? '话机已注册' : '话机未注册';
  box.title = on ? '话机在线，可以接听来电' : '话机未注册，不会分配来电，请检查话机';
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
    box.append(el('span', { className: `load-item${full ? ' full' : ''}`, data: { channel: c }, title: `${CHANNELS[c] || c}：处理中/上限` },
      `${CHANNELS[c] || '其他'} `, el('b', {}, cap[c] > 0 ? `${n}/${cap[c]}` : String(n))));
  }
}

export function showBanner(text, actionLabel, action) {
  $('banner-text').textContent = text;
  const btn = $('banner-action');
  btn.hidden = !actionLabel;
  btn.textContent = actionLabel || '';
  btn.onclick = action ? () => { hideBanner(); action(); } : null;
  $('banner').hidden = false;
  delete $('banner').dataset.kind;
}

export function hideBanner() {
  $('banner').hidden = true;
  delete $('banner').dataset.kind;
}
