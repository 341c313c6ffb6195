// The server's messages about the agent's work: offers, contacts, endings.
import { $, toast } from './dom.js';
import { RESCIND_REASONS, REQUEUE_REASONS, HANGUP_BY, OUTCOMES, EMERGENCY, labelOf, errorText } from './labels.js';
import { S, serverNow, storeDrafts, restoreDrafts } from './store.js';
import { on, resetBackoff, forgetPending } from './socket.js';
import { renderAgent, renderState } from './statusbar.js';
import { addOffer, removeOffer, clearOffers } from './offers.js';
import { upsertContact, removeContact, renderContacts, contactChanged } from './contacts.js';
import { renderDetail, renderConversation } from './detail.js';
import { refreshQueues } from './queues.js';

// resetWork forgets offers and contacts (on hello, since the server sends
// them again, and on logout). Drafts survive a reconnect and a reload.
export function resetWork(keepDrafts = false) {
  clearOffers();
  S.contacts.clear();
  forgetPending();
  S.busy.clear();
  if (!keepDrafts) { S.drafts.clear(); S.selected = null; storeDrafts(); }
  renderContacts();
  renderDetail();
}

// Offers that go together (expired at once) are told in one toast.
let rescinded = [];
let rescindTimer = 0;

function sayRescinded() {
  const list = rescinded;
  rescinded = [];
  if (list.length === 1) {
    toast(`来件 ${list[0].contact} 已撤回：${RESCIND_REASONS[list[0].reason] || '其他原因'}`, 'warn');
    return;
  }
  const reasons = [...new Set(list.map((m) => RESCIND_REASONS[m.reason] || '其他原因'))].join('、');
  toast(`${list.length} 件来件已撤回：${reasons}`, 'warn');
}

export function initWork() {
  on('hello', (m) => {
    S.agent = m.agent || S.agent;
    S.skew = m.server_time ? Date.parse(m.server_time) - Date.now() : 0;
    if (Number.isNaN(S.skew)) S.skew = 0;
    resetBackoff();
    $('node').textContent = m.node || '–';
    renderAgent();
    $('queues-box').hidden = !(S.agent && S.agent.supervisor);
    if (S.agent && S.agent.supervisor) refreshQueues();
    // The server now resends state, assigned and offers: start clean,
    // and come back to the contact that was on screen when it arrives.
    if (S.selected) S.selectNext = S.selected;
    restoreDrafts(); // after a reload
    resetWork(true);
  });
  on('state', renderState);
  on('offer', (m) => { if (m.contact && m.contact.tracking_no) addOffer(m.contact, m.expires_at); });
  on('assigned', (m) => {
    const c = m.contact;
    if (!c || !c.tracking_no) return;
    removeOffer(c.tracking_no);
    upsertContact(c);
  });
  on('rescinded', (m) => {
    if (!S.offers.has(m.contact)) return;
    removeOffer(m.contact);
    rescinded.push(m);
    clearTimeout(rescindTimer);
    rescindTimer = setTimeout(sayRescinded, 300);
  });
  // The browser phone lost a call in talk: it waits again at its old place,
  // and the agent is not ready until they choose.
  on('requeued', (m) => {
    if (S.contacts.has(m.contact)) removeContact(m.contact);
    const why = REQUEUE_REASONS[m.reason] || '其他原因';
    document.body.dataset.requeued = m.contact;
    toast(`${m.contact} 通话中断（${why}），来电已退回队列原位，由其他坐席接听；您已置为未就绪，检查网络和耳麦后请重新就绪`, 'error', m.reason || '');
  });
  on('ended', (m) => {
    const c = S.contacts.get(m.contact);
    if (!c) return;
    c.state = 'wrapup';
    c.acwStart = c.acwStart || serverNow();
    if (m.reason) c.hangup = m.reason; // shown in the detail after the toast has gone
    if (c.talkStart && !(c.talk_seconds > 0)) c.talk_seconds = (serverNow() - c.talkStart) / 1000;
    contactChanged(m.contact);
    if (c.channel === 'voice') toast(`${m.contact} 通话已结束（${HANGUP_BY[m.reason] || '其他原因'}），请整理办结`, 'info');
  });
  // The contact was handed on (to a queue or an agent, or a callback parked
  // for later): it is no longer this agent's.
  on('transferred', (m) => {
    if (!S.contacts.has(m.contact)) return;
    removeContact(m.contact);
    const where = m.to === 'agent' ? '已转给其他坐席' : m.to === 'parked' ? '回拨未接通，稍后再拨' : '已转回队列';
    toast(`${m.contact} ${where}`, 'info');
  });
  on('closed', (m) => {
    if (!S.contacts.has(m.contact)) return;
    removeContact(m.contact);
    toast(`${m.contact} 已办结${m.outcome ? '：' + labelOf(OUTCOMES, m.outcome) : ''}`, 'info');
  });
  on('ack', (m, req) => {
    if (!req) return;
    if (req.type === 'end' && S.contacts.has(req.contact)) {
      const c = S.contacts.get(req.contact);
      c.state = 'wrapup';
      c.acwStart = c.acwStart || serverNow();
      contactChanged(req.contact);
    }
  });
  on('message', (m) => {
    const c = S.contacts.get(m.contact) || (S.offers.get(m.contact) || {}).contact;
    if (!c || !m.message) return;
    c.messages = (c.messages || []).concat([m.message]);
    if (m.contact === S.selected) renderConversation(c);
    if (m.message.from === 'citizen') toast(`${m.contact} 有新消息`, 'info');
  });
  on('alert', (m) => {
    if (m.kind === 'cluster') { // a common problem growing fast (共性问题), not an emergency
      toast(`共性问题预警：${m.text || ''}（最新 ${m.contact}）`, 'error');
      return;
    }
    if (m.kind === 'archive_lag') { // the archive (PostgreSQL) is behind, not an emergency
      toast(m.text || '归档滞后', 'error');
      return;
    }
    if (m.kind === 'line_failed') { // 110/119/120/122 did not take a call transferred to it
      toast(`转接失败 ${m.contact}：${m.text || ''}`, 'error');
      return;
    }
    toast(`紧急情况（${EMERGENCY[m.kind] || '其他'}）${m.contact}：${m.text || ''}`, 'error');
  });
  on('error', (m, req) => {
    if (req && req.type === 'accept' && S.selectNext === req.contact) S.selectNext = null;
    toast(errorText(m), 'error', `${m.code || ''}: ${m.message || ''}`);
  });
}
