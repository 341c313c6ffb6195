// The desk's state, shared by the modules, and a small change signal so a
// module can react to another's change without importing it.

export const TOKEN_KEY = 'lianxin.token';

export const S = {
  token: sessionStorage.getItem(TOKEN_KEY),
  skew: 0,                // server clock minus our clock, ms
  agent: null,
  busy: new Set(),        // tracking numbers with a request in flight
  offers: new Map(),      // tracking_no -> {contact, expiresAt, total, card}
  contacts: new Map(),    // tracking_no -> contact (in order of arrival)
  selected: null,
  selectNext: null,       // tracking_no to select when it is assigned
  drafts: new Map(),      // tracking_no -> {request_type, outcome, note}
};

export const serverNow = () => Date.now() + S.skew;

// The wrap-up drafts are kept in this tab's sessionStorage too, so that a
// reload (F5, a tab the browser brings back) keeps a half-written note and
// the contact that was on screen. They go with their contact, at logout and
// with the tab. Only ever put back into form fields' values, never markup.
const DRAFTS_KEY = 'lianxin.drafts';

export function storeDrafts() {
  try {
    if (!S.agent || S.drafts.size === 0) {
      sessionStorage.removeItem(DRAFTS_KEY);
      return;
    }
    sessionStorage.setItem(DRAFTS_KEY, JSON.stringify({ agent: S.agent.id, selected: S.selected, drafts: [...S.drafts] }));
  } catch (_) { /* storage full or off: the drafts live in memory only */ }
}

// restoreDrafts takes back the drafts a reload left, when they are this
// agent's and the page has none of its own (hello, once S.agent is known).
export function restoreDrafts() {
  if (S.drafts.size || !S.agent) return;
  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(DRAFTS_KEY) || 'null'); } catch (_) { return; }
  if (!saved || saved.agent !== S.agent.id || !Array.isArray(saved.drafts)) return;
  const text = (v) => (typeof v === 'string' ? v : '');
  for (const entry of saved.drafts) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !entry[1]) continue;
    const d = entry[1];
    S.drafts.set(entry[0], { request_type: text(d.request_type), outcome: text(d.outcome), note: text(d.note) });
  }
  if (!S.selected && !S.selectNext && typeof saved.selected === 'string') S.selectNext = saved.selected;
}

const watchers = new Map();

// watch calls fn(arg) whenever changed(topic, arg) is called.
export function watch(topic, fn) {
  if (!watchers.has(topic)) watchers.set(topic, []);
  watchers.get(topic).push(fn);
}

export function changed(topic, arg) {
  for (const fn of watchers.get(topic) || []) fn(arg);
}

// setBusy marks a contact with a request in flight (its buttons wait).
export function setBusy(tn, on) {
  if (on) S.busy.add(tn); else S.busy.delete(tn);
  changed('busy', tn);
}
