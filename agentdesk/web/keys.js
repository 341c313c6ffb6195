// Keyboard shortcuts. Alt+A answer, Alt+H hang up, Alt+M mute, Alt+W
// wrap-up work anywhere, even while typing a note; A accepts and R rejects
// the oldest offer when focus is not in a field.
import { $ } from './dom.js';
import { actions } from './actions.js';
import { oldestOffer, rejectOffer } from './offers.js';

export const SHORTCUTS = [
  ['answer', 'Alt+A', '接听'],
  ['hangup', 'Alt+H', '挂断'],
  ['mute', 'Alt+M', '静音'],
  ['wrapup', 'Alt+W', '办结'],
];

function isTyping(target) {
  if (!target || !target.tagName) return false;
  return ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.isContentEditable;
}

function onKey(ev) {
  if ($('desk-view').hidden || ev.repeat || ev.ctrlKey || ev.metaKey) return;
  // ev.code, not ev.key: Alt+letter types other characters on some layouts.
  const letter = ev.code && ev.code.startsWith('Key') ? ev.code.slice(3).toLowerCase() : '';
  if (ev.altKey) {
    const hit = SHORTCUTS.find(([, keys]) => keys === `Alt+${letter.toUpperCase()}`);
    if (!hit) return;
    ev.preventDefault();
    actions[hit[0]]?.();
    return;
  }
  if (isTyping(ev.target) || ev.shiftKey) return;
  if (letter === 'a') { ev.preventDefault(); actions.answer?.(); }
  if (letter === 'r') {
    const tn = oldestOffer();
    if (tn) { ev.preventDefault(); rejectOffer(tn); }
  }
}

export function initKeys() {
  document.addEventListener('keydown', onKey);
}
