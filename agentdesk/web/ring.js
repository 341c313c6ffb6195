// Telling the agent of a new offer: a ring (WebAudio, made here, nothing
// downloaded) and a desktop notification, each switched by the agent in the
// settings and kept in localStorage. Every ring played counts in
// document.body.dataset.rings (and notifications shown in
// dataset.notifications), so a test can see them; a ring the browser would
// not play (no click on the page yet) counts in dataset.ringsBlocked and the
// page says how to allow it.
import { $, el, clear, toast } from './dom.js';
import { EMERGENCY, channelName } from './labels.js';
import { on } from './socket.js';
import { subjectOf } from './contact.js';
import { SHORTCUTS } from './keys.js';

const SETTINGS_KEY = 'lianxin.desk.settings';
const DEFAULTS = { sound: true, volume: 60, notify: false };

function load() {
  try {
    return Object.assign({}, DEFAULTS, JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}'));
  } catch (_) {
    return Object.assign({}, DEFAULTS);
  }
}

export const settings = load();

function save() {
  try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings)); } catch (_) { /* private mode: this session only */ }
}

let audio = null; // the AudioContext, made on the first gesture or ring

function context() {
  if (!audio) {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    audio = new AC();
  }
  if (audio.state === 'suspended') audio.resume().catch(() => {});
  return audio;
}

function count(name) {
  const d = document.body.dataset;
  d[name] = String(Number(d[name] || 0) + 1);
}

// schedule puts [freq Hz, start s, length s] notes on ctx from t0, at
// volume (0–100).
function schedule(ctx, notes, t0, volume) {
  const peak = Math.max(0, Math.min(1, volume / 100)) * 0.4;
  for (const [f, at, len] of notes) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = f;
    // Short ramps, so the tones start and stop without clicks.
    gain.gain.setValueAtTime(0, t0 + at);
    gain.gain.linearRampToValueAtTime(peak, t0 + at + 0.015);
    gain.gain.setValueAtTime(peak, t0 + at + len - 0.03);
    gain.gain.linearRampToValueAtTime(0, t0 + at + len);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t0 + at);
    osc.stop(t0 + at + len + 0.01);
  }
}

// tones plays notes at the set volume.
function tones(notes) {
  const ctx = context();
  if (!ctx || ctx.state !== 'running') {
    count('ringsBlocked');
    showSoundHint();
    return false;
  }
  schedule(ctx, notes, ctx.currentTime + 0.02, settings.volume);
  count('rings');
  return true;
}

// renderRing renders a ring offline (mono, at rate Hz) and returns its
// samples: what the speakers get, for a test to check by its tones.
export async function renderRing(emergency, rate = 8000) {
  const notes = emergency ? URGENT : NORMAL;
  const end = Math.max(...notes.map(([, at, len]) => at + len)) + 0.05;
  const ctx = new OfflineAudioContext(1, Math.ceil(end * rate), rate);
  schedule(ctx, notes, 0, 100);
  const buf = await ctx.startRendering();
  return buf.getChannelData(0);
}

// An ordinary offer: two rising notes, twice. An emergency: six quick high
// beeps, which an agent tells apart without looking.
const NORMAL = [[660, 0, 0.16], [880, 0.18, 0.22], [660, 0.6, 0.16], [880, 0.78, 0.22]];
const URGENT = [0, 1, 2, 3, 4, 5].map((i) => [i % 2 ? 988 : 1319, i * 0.16, 0.13]);

let hinted = 0;
function showSoundHint() {
  if (Date.now() - hinted < 60000) return;
  hinted = Date.now();
  toast('浏览器暂未允许播放提示音：请在本页任意处点击一下', 'warn');
}

function notify(c) {
  const kind = c.emergency ? `紧急·${EMERGENCY[c.emergency] || '紧急情况'}` : channelName(c);
  desktopNotice(`新来件（${kind}）`, subjectOf(c), `offer-${c.tracking_no}`, !!c.emergency);
}

// desktopNotice shows a desktop notification when the agent turned them on
// (设置); a click brings the desk to the front.
export function desktopNotice(title, body, tag, stay = false) {
  if (!settings.notify || !('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(title, { body, tag, requireInteraction: stay });
    n.onclick = () => { window.focus(); n.close(); };
    count('notifications');
  } catch (_) { /* a browser that only notifies from a service worker */ }
}

const rung = new Set(); // tracking_no@expires_at: a resent offer does not ring again

function onOffer(m) {
  const c = m.contact;
  if (!c || !c.tracking_no) return;
  const key = `${c.tracking_no}@${m.expires_at}`;
  if (rung.has(key)) return;
  rung.add(key);
  if (settings.sound) tones(c.emergency ? URGENT : NORMAL);
  notify(c);
}

function renderNotifyStatus() {
  const box = $('notify-status');
  if (!('Notification' in window)) { box.textContent = '此浏览器不支持桌面通知。'; return; }
  const p = Notification.permission;
  box.textContent = p === 'granted' ? '浏览器已允许本页显示通知。'
    : p === 'denied' ? '浏览器已禁止本页显示通知：请在浏览器的网站设置中允许后再开启。'
      : '开启时浏览器会询问是否允许显示通知。';
}

function openSettings() {
  $('set-sound').checked = settings.sound;
  $('set-volume').value = String(settings.volume);
  $('set-volume').disabled = !settings.sound;
  $('set-notify').checked = settings.notify && 'Notification' in window && Notification.permission === 'granted';
  renderNotifyStatus();
  $('settings').showModal();
}

export function initRing() {
  on('offer', onOffer);
  // The browser lets a page make sound only after the agent has touched
  // it: the first click or key starts the audio.
  for (const type of ['pointerdown', 'keydown']) {
    document.addEventListener(type, () => context(), { capture: true, passive: true });
  }
  document.body.dataset.rings = '0';
  document.body.dataset.notifications = '0';
  $('btn-settings').addEventListener('click', openSettings);
  $('set-sound').addEventListener('change', () => {
    settings.sound = $('set-sound').checked;
    $('set-volume').disabled = !settings.sound;
    save();
  });
  $('set-volume').addEventListener('input', () => { settings.volume = Number($('set-volume').value); save(); });
  $('btn-test-sound').addEventListener('click', () => tones(NORMAL));
  $('set-notify').addEventListener('change', async () => {
    const box = $('set-notify');
    if (box.checked && 'Notification' in window && Notification.permission !== 'granted') {
      const p = await Notification.requestPermission().catch(() => 'denied');
      box.checked = p === 'granted';
    }
    settings.notify = box.checked;
    save();
    renderNotifyStatus();
  });
  const list = $('settings-shortcuts');
  clear(list);
  for (const [, keys, zh] of SHORTCUTS) list.append(el('li', {}, el('kbd', {}, keys), ` ${zh}`));
  list.append(el('li', {}, el('kbd', {}, 'A'), ' 接受最早的新来件（焦点不在输入框时）'));
  list.append(el('li', {}, el('kbd', {}, 'R'), ' 拒绝最早的新来件（焦点不在输入框时）'));
}
