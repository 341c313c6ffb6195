// A supervisor's picture of every queue.
import { $, el, clear, fmtSeconds } from './dom.js';
import { S } from './store.js';
import { stopped } from './socket.js';

export async function refreshQueues() {
  if (!S.agent || !S.agent.supervisor || !S.token || stopped()) return;
  let data;
  try {
    const res = await fetch('/api/queues', { headers: { Authorization: `Bearer ${S.token}` } });
    if (!res.ok) return;
    data = await res.json();
  } catch (_) { return; }
  const tbody = $('queues');
  clear(tbody);
  for (const q of data.queues || []) {
    const a = q.agents || {};
    const wait = q.waiting > 0 ? fmtSeconds(q.oldest_wait_seconds || 0) : '–';
    const row = el('tr', { data: { queue: q.name } },
      el('td', { className: 'queue-name', title: q.title || q.name }, q.title || q.name),
      el('td', { className: q.waiting > 0 ? 'num warn' : 'num' }, String(q.waiting)),
      el('td', { className: 'num' }, wait),
      el('td', { className: 'num' }, `${a.ready || 0} / ${(a.busy || 0) + (a.offered || 0) + (a.wrap_up || 0)}`));
    tbody.append(row);
  }
}

setInterval(refreshQueues, 5000);
