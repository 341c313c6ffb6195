// The selected contact: the letter or call, its emergency, attachments
// (pictures previewed), conversation, reply box and the citizen's earlier
// contacts. The wrap-up form is not rebuilt here, so a note being typed
// survives updates to the contact.
import { $, el, clear, fmtTime, fmtSize, fmtClock, fmtSeconds, fmtPhone } from './dom.js';
import {
  CHANNELS, REQUEST_TYPES, OUTCOMES, CONTACT_STATES, HANGUP_BY, FROM, MSG_STATUS, EMERGENCY, TRANSFER_STATUS, RATINGS,
  labelOf, channelName,
} from './labels.js';
import { S, serverNow } from './store.js';
import { send } from './socket.js';
import { callerOf, lineOf, subjectOf } from './contact.js';
import { updateWrapupButtons, chooseOutcome } from './wrapup.js';

export function renderDetail() {
  const c = S.selected ? S.contacts.get(S.selected) : null;
  $('detail-empty').hidden = !!c;
  $('detail-body').hidden = !c;
  if (!c) {
    for (const id of ['detail-tracking', 'detail-subject', 'detail-text']) $(id).textContent = '';
    delete $('detail').dataset.contact;
    delete $('detail').dataset.emergency;
    updateWrapupButtons();
    return;
  }
  $('detail').dataset.contact = c.tracking_no;
  $('detail').dataset.emergency = c.emergency || '';
  $('detail-tracking').textContent = c.tracking_no;
  $('detail-channel').textContent = channelName(c);
  renderPhase(c);
  renderEmergency(c);
  $('detail-subject').textContent = c.subject || (c.channel === 'voice' ? subjectOf(c) : '（无主题）');
  $('detail-text').textContent = c.text || '';
  $('detail-text-box').hidden = !c.text;
  renderMeta(c);
  renderExtra(c);
  renderAttachments(c.attachments || [], c.tracking_no);
  renderHistory(c.history || []);
  renderConversation(c);
  updateWrapupButtons();
}

// renderPhase shows a call's clock while it is talked (or that it is being
// handed to a line blind), and the after-call work clock once the contact is
// in wrap-up.
function renderPhase(c) {
  const box = $('detail-phase');
  const out = c.channel === 'voice' && c.state !== 'wrapup' && c.lineOut; // see phaseChip
  const talking = c.channel === 'voice' && c.state !== 'wrapup' && !out;
  box.hidden = c.state !== 'wrapup' && !talking && !out;
  box.className = talking ? 'chip talking' : 'chip phase';
  delete box.dataset.talkStart;
  delete box.dataset.acwStart;
  if (out) {
    box.textContent = `转${c.lineOut}中`;
  } else if (talking) {
    box.dataset.talkStart = String(c.talkStart || serverNow());
    box.textContent = `通话中 ${fmtClock(serverNow() - (c.talkStart || serverNow()))}`;
  } else if (c.state === 'wrapup') {
    box.dataset.acwStart = String(c.acwStart || serverNow());
    box.textContent = `话后 ${fmtClock(serverNow() - (c.acwStart || serverNow()))}`;
  }
}

function renderEmergency(c) {
  const box = $('detail-emergency');
  box.hidden = !c.emergency;
  if (!c.emergency) return;
  $('detail-emergency-kind').textContent = EMERGENCY[c.emergency] || '紧急情况';
  $('detail-emergency-advice').textContent = c.emergency_advice || '（无）';
  $('detail-emergency-advice').parentElement.hidden = !c.emergency_advice;
  $('detail-emergency-outcome').textContent = c.suggested_outcome ? labelOf(OUTCOMES, c.suggested_outcome) : '';
  $('detail-emergency-outcome').parentElement.hidden = !c.suggested_outcome;
}

// renderConversation shows the messages after the first one, and the
// reply box where the channel can carry a reply (the server says whether
// it can, can_reply, and when not, why).
export function renderConversation(c) {
  const list = c.messages || [];
  const ol = $('detail-conversation');
  clear(ol);
  $('detail-conversation-box').hidden = list.length === 0;
  $('detail-conversation-count').textContent = String(list.length);
  for (const msg of list) {
    const who = FROM[msg.from] || '';
    const head = [who, msg.agent || '', fmtTime(msg.at), MSG_STATUS[msg.status] || ''].filter(Boolean).join(' · ');
    const li = el('li', { className: `msg from-${msg.from || 'other'}` }, el('div', { className: 'msg-head muted' }, head));
    if (msg.text) li.append(el('div', { className: 'msg-text' }, msg.text));
    for (const a of msg.attachments || []) {
      li.append(el('div', {}, attachmentLink(c.tracking_no, a, a.name || '附件'), preview(c.tracking_no, a)));
    }
    ol.append(li);
  }
  const open = c.state !== 'closed';
  $('reply-form').hidden = !(open && c.can_reply === true);
  const note = open && c.can_reply === false && c.channel !== 'voice' ? c.reply_note || '该渠道无法回复市民。' : '';
  $('reply-note').textContent = note;
  $('reply-note').hidden = !note;
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
  const queue = c.queue_title || c.queue;
  const rows = [
    voice ? ['来电号码', callerOf(c)] : null,
    voice && c.callback ? ['回拨', '来电人的通话已中断，请回拨', 'warn'] : null,
    ['线路', lineOf(c)],
    ['收到时间', fmtTime(c.received_at)],
    ['排队时间', fmtTime(c.queued_at)],
    ['来件人', citizen.name],
    voice ? null : ['电话', fmtPhone(citizen.phone)],
    ['邮箱', citizen.email],
    voice || citizen.address === citizen.phone || citizen.address === citizen.email ? null : ['来源地址', citizen.address],
    voice ? ['排队等待', fmtSeconds(c.wait_seconds)] : null,
    voice && c.talk_seconds > 0 ? ['通话时长', fmtSeconds(c.talk_seconds)] : null,
    voice && c.hangup ? ['通话结束', HANGUP_BY[c.hangup] || '其他原因'] : null,
    ['诉求类型（初判）', c.request_type ? labelOf(REQUEST_TYPES, c.request_type) : ''],
    ['事发地点', [loc.address, coords].filter(Boolean).join(' · ')],
    ['队列', c.priority > 0 && !c.emergency ? `${queue || ''} · 优先 ${c.priority}` : queue],
  ];
  // An e-mail's sender check (SPF, DKIM, DMARC): the server's sentence,
  // shown as text, marked when the sender is not authenticated.
  const auth = c.sender_auth;
  if (auth && auth.note) rows.push(['发件人验证', auth.note, auth.authenticated ? '' : 'warn']);
  const dl = $('detail-meta');
  clear(dl);
  for (const row of rows) {
    if (!row) continue;
    const [zh, value, mark] = row;
    if (!value) continue;
    dl.append(el('div', { className: mark ? `meta-row ${mark}` : 'meta-row' },
      el('dt', {}, zh), el('dd', {}, String(value))));
  }
}

// renderExtra shows what other parts add to a contact, when present: the
// citizen's rating, a push to 110/119/120/122, the call's recording.
function renderExtra(c) {
  const r = c.rating;
  $('detail-rating').hidden = !r;
  if (r) {
    const label = r.label || RATINGS[r.score] || '已评价';
    $('detail-rating').textContent = `市民评价：${label}${r.at ? `（${fmtTime(r.at)}）` : ''}`;
    $('detail-rating').dataset.score = String(r.score || '');
  }
  const x = c.transfer;
  $('detail-transfer').hidden = !x;
  if (x) {
    const target = x.target && x.target !== x.to ? `（${x.target}）` : '';
    $('detail-transfer').textContent = `转${x.to || ''}${target}：${TRANSFER_STATUS[x.status] || '状态未知'}`;
    $('detail-transfer').dataset.status = x.status || '';
  }
  const rec = c.recording;
  const box = $('detail-recording');
  if (box.dataset.contact !== c.tracking_no) {
    // Another contact: drop the last one's recording.
    box.dataset.contact = c.tracking_no;
    const audio = $('recording-audio');
    if (audio.src) { URL.revokeObjectURL(audio.src); audio.removeAttribute('src'); }
    audio.hidden = true;
    $('btn-recording').hidden = false;
    $('btn-recording').disabled = false;
    $('btn-recording').textContent = '加载录音';
  }
  box.hidden = !rec;
  $('detail-extra').hidden = !r && !x && !rec;
}

async function loadRecording() {
  const tn = $('detail-recording').dataset.contact;
  const btn = $('btn-recording');
  btn.disabled = true;
  btn.textContent = '加载中…';
  try {
    const res = await fetch(`/api/contacts/${encodeURIComponent(tn)}/recording`,
      { headers: { Authorization: `Bearer ${S.token}` }, cache: 'no-store' });
    if (!res.ok) throw new Error(res.status === 404 ? '暂无录音' : '录音加载失败');
    const url = URL.createObjectURL(await res.blob());
    if ($('detail-recording').dataset.contact !== tn) { URL.revokeObjectURL(url); return; }
    const audio = $('recording-audio');
    audio.src = url;
    audio.hidden = false;
    btn.hidden = true;
  } catch (err) {
    btn.textContent = err.message === '暂无录音' ? '暂无录音' : '录音加载失败，点击重试';
    btn.disabled = err.message === '暂无录音';
  }
}

function attachmentURL(tn, a) {
  return `/api/attachments/${encodeURIComponent(a.sha256 || '')}?contact=${encodeURIComponent(tn || '')}`;
}

// fetchAttachment gets an attachment with the token in the Authorization
// header (never in a URL).
async function fetchAttachment(tn, a) {
  const res = await fetch(attachmentURL(tn, a), { headers: { Authorization: `Bearer ${S.token}` }, cache: 'no-store' });
  if (!res.ok) throw new Error(res.status === 403 ? '无权查看' : '下载失败');
  return res;
}

// attachmentLink downloads an attachment and saves it from a blob URL.
function attachmentLink(tn, a, label) {
  const link = el('a', { href: '#', className: 'attachment', title: '下载' }, label);
  link.addEventListener('click', async (ev) => {
    ev.preventDefault();
    try {
      const res = await fetchAttachment(tn, a);
      const blob = URL.createObjectURL(await res.blob());
      const save = el('a', { href: blob, download: a.name || '附件' });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(blob), 60000);
    } catch (err) {
      link.title = `下载失败：${err instanceof TypeError ? '网络错误' : err.message}`;
    }
  });
  return link;
}

// Pictures, by contact: tracking_no -> Map(sha -> Promise of a blob URL).
// They are fetched once and let go when the contact leaves the desk.
const media = new Map();

function mediaURL(tn, a) {
  if (!media.has(tn)) media.set(tn, new Map());
  const m = media.get(tn);
  if (!m.has(a.sha256)) {
    m.set(a.sha256, fetchAttachment(tn, a).then(async (res) => {
      // Only what the server serves as a picture is shown as one.
      if (!(res.headers.get('Content-Type') || '').startsWith('image/')) return null;
      return URL.createObjectURL(await res.blob());
    }).catch(() => null));
  }
  return m.get(a.sha256);
}

// forgetMedia lets a contact's pictures go.
export function forgetMedia(tn) {
  const m = media.get(tn);
  if (!m) return;
  media.delete(tn);
  for (const p of m.values()) p.then((url) => { if (url) URL.revokeObjectURL(url); });
}

// preview shows a picture attachment inline; others get nothing.
function preview(tn, a) {
  if (!/^image\//.test(a.type || '') || !a.sha256) return null;
  const img = el('img', { className: 'att-preview', alt: a.name || '图片', title: a.name || '图片', hidden: true });
  img.addEventListener('error', () => { img.hidden = true; }); // not a picture after all
  mediaURL(tn, a).then((url) => {
    if (!url) return;
    img.src = url;
    img.hidden = false;
  });
  return img;
}

function renderAttachments(list, tn) {
  const ul = $('detail-attachments');
  clear(ul);
  $('detail-attachments-box').hidden = list.length === 0;
  for (const a of list) {
    const link = attachmentLink(tn, a, a.name || '附件');
    ul.append(el('li', {}, link, ' ', el('span', { className: 'muted' }, fmtSize(a.size)), preview(tn, a)));
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
      el('td', {}, CHANNELS[h.channel] || ''),
      el('td', {}, CONTACT_STATES[h.state] || ''),
      el('td', { className: 'mono' }, fmtTime(h.queued_at || h.received_at)),
      el('td', {}, h.subject || '')));
  }
}

export function initDetail() {
  $('reply-form').addEventListener('submit', onReply);
  $('reply-text').addEventListener('input', () => {
    $('reply-count').textContent = `${$('reply-text').value.length}/2000`;
  });
  $('btn-recording').addEventListener('click', loadRecording);
  $('btn-use-suggested').addEventListener('click', () => {
    const c = S.selected ? S.contacts.get(S.selected) : null;
    if (c && c.suggested_outcome) chooseOutcome(c.suggested_outcome);
  });
}
