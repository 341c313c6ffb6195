// The agent's contacts: the list on the left and which one is on screen.
import { $, el, clear, fmtClock } from './dom.js';
import { channelName, EMERGENCY } from './labels.js';
import { S, serverNow, storeDrafts } from './store.js';
import { subjectOf } from './contact.js';
import { renderDetail, forgetMedia } from './detail.js';
import { loadDraft } from './wrapup.js';

export function upsertContact(c) {
  // A call being talked gets a clock: from now, less what the server counted.
  const had = S.contacts.get(c.tracking_no);
  if (c.channel === 'voice' && c.state !== 'wrapup') {
    c.talkStart = (had && had.talkStart) || serverNow() - (c.talk_seconds || 0) * 1000;
    if (had && had.lineOut) c.lineOut = had.lineOut;
  }
  if (c.state === 'wrapup') {
    // After-call work runs from the end of the work (the server's ended_at).
    c.acwStart = (had && had.acwStart) || Date.parse(c.ended_at) || serverNow();
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

// contactChanged re-renders after a contact was changed in place.
export function contactChanged(tn) {
  renderContacts();
  if (tn === S.selected) renderDetail();
}

export function removeContact(tn) {
  S.contacts.delete(tn);
  S.drafts.delete(tn);
  forgetMedia(tn);
  S.busy.delete(tn);
  if (S.selected === tn) {
    const next = S.contacts.keys().next();
    S.selected = next.done ? null : next.value;
    renderDetail();
    loadDraft();
  }
  storeDrafts();
  renderContacts();
}

export function select(tn) {
  if (tn === S.selected) { renderContacts(); renderDetail(); return; }
  S.selected = tn;
  storeDrafts();
  renderContacts();
  renderDetail();
  loadDraft();
}

export function renderContacts() {
  const list = $('contacts');
  clear(list);
  for (const [tn, c] of S.contacts) {
    const current = tn === S.selected;
    const btn = el('button', { type: 'button', className: 'contact-btn', attrs: { 'aria-current': current ? 'true' : 'false' } },
      el('span', { className: 'contact-top' },
        c.emergency ? el('span', { className: 'chip emergency' }, `紧急·${EMERGENCY[c.emergency] || '紧急情况'}`) : null,
        el('span', { className: 'chip' }, channelName(c)),
        el('span', { className: 'contact-tn' }, tn),
        phaseChip(c)),
      el('span', { className: 'contact-subject', title: subjectOf(c) }, subjectOf(c)));
    btn.addEventListener('click', () => select(tn));
    const cls = [current ? 'selected' : '', c.emergency ? 'emergency' : ''].filter(Boolean).join(' ');
    list.append(el('li', { className: cls, data: { contact: tn } }, btn));
  }
  $('contacts-count').textContent = String(S.contacts.size);
  $('contacts-empty').hidden = S.contacts.size > 0;
}

// phaseChip marks a contact in wrap-up, a call still being talked, and a
// call handed to an emergency line blind (the agent's phone is hung up; the
// caller waits for the line: phone.js sets lineOut).
function phaseChip(c) {
  if (c.channel === 'voice' && c.lineOut && c.state !== 'wrapup') {
    return el('span', { className: 'chip phase' }, `转${c.lineOut}中`);
  }
  if (c.state === 'wrapup') {
    return el('span', { className: 'chip phase', data: { acwStart: String(c.acwStart || serverNow()) } },
      `话后 ${fmtClock(serverNow() - (c.acwStart || serverNow()))}`);
  }
  if (c.channel === 'voice') {
    return el('span', { className: 'chip talking', data: { talkStart: String(c.talkStart || serverNow()) } },
      `通话中 ${fmtClock(serverNow() - (c.talkStart || serverNow()))}`);
  }
  return null;
}

// tickTalk updates every running clock: calls being talked, after-call work.
function tickTalk() {
  for (const node of document.querySelectorAll('[data-talk-start]')) {
    node.textContent = `通话中 ${fmtClock(serverNow() - Number(node.dataset.talkStart))}`;
  }
  for (const node of document.querySelectorAll('[data-acw-start]')) {
    node.textContent = `话后 ${fmtClock(serverNow() - Number(node.dataset.acwStart))}`;
  }
}

setInterval(tickTalk, 1000);
