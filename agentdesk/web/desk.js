// Lianxin agent desk (连心坐席工作台): the page's entry module.
//
// One page: log in over HTTP, then one websocket speaking the JSON protocol
// in agentdesk/PROTOCOL.md. Everything a citizen wrote (and everything the
// server sends) reaches the DOM as text only: textContent, text nodes or
// form values. No module parses strings as HTML.
//
// Modules: socket (the websocket), store (shared state), actions (what the
// shortcuts do), offers, contacts, detail, wrapup, statusbar, login, queues,
// keys, work (the server's messages). A module that adds to the desk (the
// browser phone) is imported here, after the others.
import { $, el, fillSelect } from './dom.js';
import { NOT_READY_REASONS } from './labels.js';
import { S } from './store.js';
import { send } from './socket.js';
import { actions } from './actions.js';
import { acceptOffer, oldestOffer } from './offers.js';
import { initDetail } from './detail.js';
import { initWrapup, endContact, submitWrapup } from './wrapup.js';
import { renderState } from './statusbar.js';
import { initLogin, showLogin, startDesk } from './login.js';
import { initWork } from './work.js';
import { initKeys, SHORTCUTS } from './keys.js';
import { initRing } from './ring.js';
import { initRenew } from './renew.js';
import './phone.js';

// Defaults; the browser phone may replace answer, hangup and mute.
actions.answer = () => { const tn = oldestOffer(); if (tn) acceptOffer(tn); };
actions.hangup = () => endContact();
// wrapup goes to the wrap-up form, and sends it when already there.
actions.wrapup = () => {
  if (!S.selected) return;
  if ($('wrapup-form').contains(document.activeElement)) submitWrapup();
  else $('wrapup-type').focus();
};

function init() {
  fillSelect($('notready-reason'), NOT_READY_REASONS);
  renderState({ state: 'logged_out' });
  initLogin();
  initWork();
  initDetail();
  initWrapup();
  initKeys();
  initRing();
  initRenew();
  for (const [, keys, zh] of SHORTCUTS) $('shortcuts').append(el('span', {}, el('kbd', {}, keys), ` ${zh}`));
  $('btn-ready').addEventListener('click', () => send({ type: 'ready' }, { track: false }));
  $('btn-notready').addEventListener('click', () => send({ type: 'not_ready', reason: $('notready-reason').value }, { track: false }));
  if (S.token) startDesk(); else showLogin('');
}

init();
