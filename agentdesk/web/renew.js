// Renewing the login without leaving the desk (PROTOCOL.md, renew). From
// R.before before the login runs out (hello's login_expires_at and
// renew_warning_seconds, auth.renew_warning), and
// while it winds down (not ready, reason login_expired), a strip under the
// status bar asks for the password: the page logs in again (POST
// /api/login) and hands the new token to the desk, which goes on with it.
// Calls, letters and drafts stay as they are, and a wallboard open in
// another tab of this browser goes on with the new login too. The warning
// and the wind-down are desktop notifications as well, when the agent has
// them on.
import { $, toast, fmtTime } from './dom.js';
import { LOGIN_ERRORS, errorText } from './labels.js';
import { S, TOKEN_KEY, serverNow } from './store.js';
import { on, send } from './socket.js';
import { postLogin } from './login.js';
import { desktopNotice } from './ring.js';

const R = {
  expiresAt: 0,    // when the login runs out, by the server's clock (ms)
  before: 15 * 60 * 1000, // the strip shows this long before (ms)
  winding: false,  // the server is winding the login down
  timer: 0,
};

function setError(text) {
  $('renew-error').textContent = text;
  $('renew-error').hidden = !text;
}

// render shows the strip when the login is near its end or winding down.
function render() {
  clearTimeout(R.timer);
  const left = R.expiresAt ? R.expiresAt - serverNow() : Infinity;
  const show = R.winding || left <= R.before;
  if (!show && Number.isFinite(left)) R.timer = setTimeout(render, Math.min(left - R.before, 3600000));
  const strip = $('renew');
  if (!show) {
    strip.hidden = true;
    setError('');
    return;
  }
  const kind = R.winding ? 'ending' : 'soon';
  // Said once each on the desktop too: the desk may be behind other windows.
  if (strip.hidden || strip.dataset.kind !== kind) {
    desktopNotice(R.winding ? '登录已到期，不再分配新来件' : '登录即将到期',
      '回到工作台输入密码续期，手上的工作不受影响。', `login-${kind}`, R.winding);
  }
  strip.dataset.kind = kind;
  $('renew-text').textContent = R.winding
    ? '登录已到期：不再分配新来件。输入密码续期后可继续接件；不续期则处理完手上的工作后退出，需重新登录。'
    : `登录将于 ${fmtTime(new Date(R.expiresAt - S.skew)).slice(11, 16)} 到期。输入密码续期，手上的工作不受影响。`;
  if (strip.hidden) {
    strip.hidden = false;
    $('renew-password').value = '';
  }
}

async function onSubmit(ev) {
  ev.preventDefault();
  const password = $('renew-password').value;
  if (!password) { setError('请输入密码'); return; }
  const button = $('renew-submit');
  button.disabled = true;
  setError('');
  try {
    const { ok, status, body } = await postLogin(S.agent && S.agent.id, password,
      () => setError('登录的人较多，正在排队续期，请稍候…'));
    if (!ok) {
      setError(body.error === 'bad_credentials' ? '密码错误，请重新输入'
        : LOGIN_ERRORS[body.error] || `续期失败（HTTP ${status}）`);
      $('renew-password').value = '';
      $('renew-password').focus();
      return;
    }
    // The desk answers renewed (or error) with this request.
    if (!send({ type: 'renew', token: body.token }, { quiet: true })) setError('未连接服务器，请稍后再试');
  } catch (_) {
    setError('无法连接服务器，请检查网络');
  } finally {
    button.disabled = false;
  }
}

export function initRenew() {
  $('renew').addEventListener('submit', onSubmit);
  on('hello', (m) => {
    R.expiresAt = m.login_expires_at ? Date.parse(m.login_expires_at) || 0 : 0;
    if (m.renew_warning_seconds > 0) R.before = m.renew_warning_seconds * 1000;
    render();
  });
  on('state', (m) => {
    R.winding = m.presence === 'not_ready' && m.reason === 'login_expired';
    render();
  });
  on('renewed', (m, req) => {
    if (!req || !req.token) return;
    S.token = req.token;
    sessionStorage.setItem(TOKEN_KEY, req.token);
    // The wallboard this page opened shares the login: it goes on too.
    if ('BroadcastChannel' in window && S.agent) {
      const ch = new BroadcastChannel('lianxin.login');
      ch.postMessage({ agent: S.agent.id, token: req.token });
      ch.close();
    }
    R.expiresAt = Date.parse(m.login_expires_at) || 0;
    R.winding = false;
    $('renew-password').value = '';
    render();
    toast(`登录已续期，有效至 ${fmtTime(m.login_expires_at).slice(11, 16)}`, 'info');
  });
  on('error', (m, req) => { if (req && req.type === 'renew') setError(errorText(m)); });
  on('socket:ended', () => { R.expiresAt = 0; R.winding = false; render(); });
}
