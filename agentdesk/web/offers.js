// Offers: a card per open offer with its countdown, accept and reject.
import { $, el, clear } from './dom.js';
import { channelName, EMERGENCY, labelOf, OUTCOMES } from './labels.js';
import { S, serverNow, watch } from './store.js';
import { send } from './socket.js';
import { callerOf, lineOf } from './contact.js';

const BASE_TITLE = '连心 · 坐席工作台';

export function addOffer(c, expiresAt) {
  const tn = c.tracking_no;
  const old = S.offers.get(tn);
  if (old) old.card.remove();
  const exp = Date.parse(expiresAt);
  const offer = { contact: c, expiresAt: exp, total: Math.max(1000, exp - serverNow()), card: null };
  offer.card = buildOfferCard(offer);
  S.offers.set(tn, offer);
  $('offers').append(offer.card);
  tickOffers();
  renderOffersMeta();
  return !old;
}

function buildOfferCard(offer) {
  const c = offer.contact;
  const tn = c.tracking_no;
  const text = String(c.text || '');
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  const citizen = c.citizen || {};
  const accept = el('button', { type: 'button', className: 'accept primary', title: '快捷键 A 或 Alt+A' }, '接受');
  const reject = el('button', { type: 'button', className: 'reject', title: '快捷键 R' }, '拒绝');
  accept.addEventListener('click', () => acceptOffer(tn));
  reject.addEventListener('click', () => rejectOffer(tn));
  const emergency = c.emergency ? EMERGENCY[c.emergency] || '紧急情况' : '';
  return el('div', {
    className: emergency ? 'offer-card emergency' : 'offer-card',
    data: { offer: tn, emergency: c.emergency || '' },
    attrs: { role: 'group', 'aria-label': emergency ? `紧急新来件 ${emergency} ${tn}` : `新来件 ${tn}` },
  },
  el('div', { className: 'offer-head' },
    emergency ? el('span', { className: 'chip emergency' }, `紧急·${emergency}`) : null,
    el('span', { className: 'chip' }, channelName(c)),
    c.callback ? el('span', { className: 'chip urgent', title: '来电人的通话已中断，请回拨' }, '回拨') : null,
    el('span', { className: 'offer-line', title: lineOf(c) }, lineOf(c)),
    el('span', { className: 'countdown', attrs: { 'aria-label': '剩余时间' } })),
  el('div', { className: 'offer-bar' }, el('span')),
  el('div', { className: 'offer-subject' }, c.subject || (c.channel === 'voice' ? '来电振铃中，接起话机即接受' : '（无主题）')),
  excerpt ? el('div', { className: 'offer-text' }, excerpt) : null,
  c.emergency_advice ? el('div', { className: 'offer-advice' }, '已告知市民：', c.emergency_advice) : null,
  c.suggested_outcome ? el('div', { className: 'offer-suggest' }, `建议：${labelOf(OUTCOMES, c.suggested_outcome)}`) : null,
  el('div', { className: 'offer-citizen' }, c.channel === 'voice' ? '来电号码 ' : '来件人 ',
    el('span', { className: 'caller' }, callerOf(c) || '—'),
    c.channel === 'voice' && citizen.name ? ` ${citizen.name}` : null,
    c.priority > 0 && !emergency ? el('span', { className: 'chip urgent' }, `优先 ${c.priority}`) : null,
    (c.history || []).length ? el('span', { className: 'chip repeat' }, `重复来电 ${c.history.length}`) : null),
  el('div', { className: 'offer-buttons' }, accept, reject));
}

export function removeOffer(tn) {
  const offer = S.offers.get(tn);
  if (!offer) return;
  offer.card.remove();
  S.offers.delete(tn);
  renderOffersMeta();
}

export function clearOffers() {
  S.offers.clear();
  clear($('offers'));
  renderOffersMeta();
}

function renderOffersMeta() {
  $('offers-empty').hidden = S.offers.size > 0;
  document.title = S.offers.size > 0 ? `（新来件）${BASE_TITLE}` : BASE_TITLE;
  // The tab's icon has a dot too, for a desk tab among others.
  const icon = $('favicon');
  if (icon) icon.href = S.offers.size > 0 ? 'icon-offer.svg' : 'icon.svg';
}

// tickOffers updates every countdown; an expired card waits for the
// server's `rescinded`, and goes anyway if that never comes.
function tickOffers() {
  const now = serverNow();
  for (const [tn, offer] of S.offers) {
    const left = offer.expiresAt - now;
    const secs = Math.max(0, Math.ceil(left / 1000));
    const card = offer.card;
    card.querySelector('.countdown').textContent = left > 0 ? `${secs} 秒` : '已超时';
    card.querySelector('.offer-bar span').style.width = `${Math.max(0, Math.min(100, left / offer.total * 100))}%`;
    card.classList.toggle('urgent', left > 0 && left < 10000);
    card.classList.toggle('expired', !(left > 0));
    updateOfferButtons(tn);
    if (left < -15000) removeOffer(tn);
  }
}

function updateOfferButtons(tn) {
  const offer = S.offers.get(tn);
  if (!offer) return;
  const off = S.busy.has(tn) || !(offer.expiresAt > serverNow());
  for (const b of offer.card.querySelectorAll('button')) b.disabled = off;
}

export function acceptOffer(tn) {
  if (!S.offers.has(tn) || S.busy.has(tn)) return;
  if (send({ type: 'accept', contact: tn })) S.selectNext = tn;
}

export function rejectOffer(tn) {
  if (!S.offers.has(tn) || S.busy.has(tn)) return;
  send({ type: 'reject', contact: tn });
}

// oldestOffer is the first offer still open (Map keeps arrival order).
export function oldestOffer() {
  for (const [tn, offer] of S.offers) if (offer.expiresAt > serverNow() && !S.busy.has(tn)) return tn;
  return null;
}

watch('busy', updateOfferButtons);
setInterval(tickOffers, 250);
