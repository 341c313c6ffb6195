// The wrap-up form: request type, outcome, note; drafts kept per contact.
import { $, clear, small } from './dom.js';
import { REQUEST_TYPES, OUTCOMES } from './labels.js';
import { S, watch } from './store.js';
import { send } from './socket.js';

// loadDraft fills the form for the selected contact from its draft, or
// from the contact's own request type guess.
export function loadDraft() {
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

export function updateWrapupButtons() {
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

export function submitWrapup() {
  const tn = S.selected;
  if (!tn || S.busy.has(tn)) return;
  send({
    type: 'wrapup',
    contact: tn,
    request_type: $('wrapup-type').value,
    outcome: $('wrapup-outcome').value,
    note: $('wrapup-note').value.slice(0, 2000),
  });
}

export function endContact() {
  const tn = S.selected;
  if (!tn || S.busy.has(tn)) return;
  send({ type: 'end', contact: tn });
}

export function initWrapup() {
  $('wrapup-form').addEventListener('submit', (ev) => { ev.preventDefault(); submitWrapup(); });
  $('btn-end').addEventListener('click', endContact);
  for (const id of ['wrapup-type', 'wrapup-outcome', 'wrapup-note']) {
    $(id).addEventListener('input', saveDraft);
    $(id).addEventListener('change', saveDraft);
  }
  watch('busy', (tn) => { if (tn === S.selected) updateWrapupButtons(); });
}
