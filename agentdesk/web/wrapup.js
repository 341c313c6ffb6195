// The wrap-up form: request type, outcome, note; drafts kept per contact.
// Nothing is chosen for the agent: both lists start on "请选择", and the
// form cannot be sent until the agent has chosen both (the server refuses a
// wrap-up without them too). An emergency's suggested outcome is marked in
// the list and one click away, never preselected.
import { $, el, clear, fmtClock } from './dom.js';
import { REQUEST_TYPES, OUTCOMES, labelOf } from './labels.js';
import { S, serverNow, watch, storeDrafts } from './store.js';
import { send } from './socket.js';

function fill(select, pairs, suggested) {
  clear(select);
  select.append(el('option', { value: '', disabled: true }, '请选择…'));
  for (const [value, zh] of pairs) {
    select.append(el('option', { value }, value === suggested ? `${zh}（建议）` : zh));
  }
}

// loadDraft fills the form for the selected contact from its draft.
export function loadDraft() {
  const tn = S.selected;
  const c = tn ? S.contacts.get(tn) : null;
  const d = (tn && S.drafts.get(tn)) || {};
  fill($('wrapup-outcome'), OUTCOMES, c && c.suggested_outcome);
  $('wrapup-type').value = d.request_type || '';
  $('wrapup-outcome').value = d.outcome || '';
  $('wrapup-note').value = d.note || '';
  const guess = c && REQUEST_TYPES.some((p) => p[0] === c.request_type) ? labelOf(REQUEST_TYPES, c.request_type) : '';
  $('wrapup-type-guess').textContent = guess ? `初判：${guess}` : '';
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
  storeDrafts();
  updateNoteCount();
  updateWrapupButtons();
}

// chooseOutcome sets the outcome as the agent would (the suggested one).
export function chooseOutcome(outcome) {
  $('wrapup-outcome').value = outcome;
  saveDraft();
}

function updateNoteCount() {
  $('wrapup-note-count').textContent = `${$('wrapup-note').value.length}/2000`;
}

// missing says what the agent still has to choose, or ''.
function missing() {
  const type = $('wrapup-type').value;
  const outcome = $('wrapup-outcome').value;
  if (!type && !outcome) return '请选择诉求类型和处理结果后再办结';
  if (!type) return '请选择诉求类型后再办结';
  if (!outcome) return '请选择处理结果后再办结';
  return '';
}

export function updateWrapupButtons() {
  const c = S.selected ? S.contacts.get(S.selected) : null;
  const busy = !c || S.busy.has(c.tracking_no);
  const need = c ? missing() : '';
  $('btn-wrapup').disabled = busy || !!need;
  $('wrapup-hint').textContent = need;
  $('wrapup-hint').hidden = !need;
  if (!need) $('wrapup-hint').classList.remove('tried');
  $('btn-end').disabled = busy || c.state === 'wrapup';
  // For a call, `end` hangs it up: say so.
  const call = !!c && c.channel === 'voice';
  $('btn-end').textContent = call ? '挂断' : '结束处理';
  $('btn-end').title = call ? '挂断电话（Alt+H）' : '结束处理，进入话后整理（Alt+H）';
  renderACW(c);
}

// renderACW shows the after-call work clock in the form's title while the
// contact is in wrap-up.
function renderACW(c) {
  const box = $('acw');
  const on = !!c && c.state === 'wrapup';
  box.hidden = !on;
  if (!on) { delete box.dataset.acwStart; return; }
  const start = c.acwStart || serverNow();
  box.dataset.acwStart = String(start);
  box.textContent = `话后 ${fmtClock(serverNow() - start)}`;
}

export function submitWrapup() {
  const tn = S.selected;
  if (!tn || S.busy.has(tn)) return;
  const need = missing();
  if (need) {
    updateWrapupButtons();
    $('wrapup-hint').classList.add('tried'); // said again, louder
    $(!$('wrapup-type').value ? 'wrapup-type' : 'wrapup-outcome').focus();
    return;
  }
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
  const c = S.contacts.get(tn);
  if (!c || c.state === 'wrapup') return;
  send({ type: 'end', contact: tn });
}

export function initWrapup() {
  fill($('wrapup-type'), REQUEST_TYPES);
  fill($('wrapup-outcome'), OUTCOMES);
  $('wrapup-form').addEventListener('submit', (ev) => { ev.preventDefault(); submitWrapup(); });
  $('btn-end').addEventListener('click', endContact);
  for (const id of ['wrapup-type', 'wrapup-outcome', 'wrapup-note']) {
    $(id).addEventListener('input', saveDraft);
    $(id).addEventListener('change', saveDraft);
  }
  watch('busy', (tn) => { if (tn === S.selected) updateWrapupButtons(); });
}
