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
