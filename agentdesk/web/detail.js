// The selected contact: the letter or call, its attachments, conversation,
// reply box and the citizen's earlier contacts. The wrap-up form is not
// rebuilt here, so a note being typed survives updates to the contact.
import { $, el, small, clear, fmtTime, fmtSize, fmtClock, fmtSeconds, fmtPhone } from './dom.js';
import { CHANNELS, REQUEST_TYPES, CONTACT_STATES, HANGUP_BY, FROM, MSG_STATUS, labelOf, channelLabel } from './labels.js';
import { S, serverNow } from './store.js';
import { send } from './socket.js';
import { callerOf, lineOf, subjectOf } from './contact.js';
import { updateWrapupButtons } from './wrapup.js';

export function renderDetail() {
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

// renderConversation shows the messages after the first one, and the
// reply box where the channel can carry a reply.
export function renderConversation(c) {
  const list = c.messages || [];
  const ol = $('detail-conversation');
  clear(ol);
  $('detail-conversation-box').hidden = list.length === 0;
  $('detail-conversation-count').textContent = String(list.length);
  for (const msg of list) {
    const who = FROM[msg.from] || msg.from || '';
    const head = [who, msg.agent || '', fmtTime(msg.at), MSG_STATUS[msg.status] || msg.status || ''].filter(Boolean).join(' · ');
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
  if (send({ type: 'reply', contact: tn, text })) {
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

export function initDetail() {
  $('reply-form').addEventListener('submit', onReply);
  $('reply-text').addEventListener('input', () => {
    $('reply-count').textContent = `${$('reply-text').value.length}/2000`;
  });
}
