// Logging in and out, and what happens when the session ends.
import { $ } from './dom.js';
import { LOGIN_ERRORS } from './labels.js';
import { S, TOKEN_KEY } from './store.js';
import { send, on, start, stop, isOpen } from './socket.js';
import { renderAgent, showBanner, hideBanner } from './statusbar.js';
import { resetWork } from './work.js';

export function showLogin(message) {
  stop();
  S.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  resetWork();
  $('desk-view').hidden = true;
  $('login-view').hidden = false;
  $('login-password').value = '';
  setLoginError(message || '');
  $(message ? 'login-password' : 'login-agent').focus();
}

function setLoginError(text, kind = 'error') {
  $('login-error').textContent = text;
  $('login-error').dataset.kind = kind;
  $('login-error').hidden = !text;
}

function showDesk() {
  $('desk-view').classList.remove('inactive');
  $('login-view').hidden = true;
  $('desk-view').hidden = false;
  hideBanner();
}

// startDesk shows the desk and connects its socket.
export function startDesk() {
  showDesk();
  start();
}

// A node too busy to check a password now (503: login_busy, as a whole shift
// logs in at once; busy, too many connections) is asked again after its
// Retry-After and a little more (so that the pages waiting do not all come
// back in the same instant), for up to LOGIN_WAIT.
const LOGIN_WAIT = 60 * 1000;

// postLogin asks the server for a token (POST /api/login): the response's
// status and body, and whether it holds a token. waiting() is called before
// each wait for a busy node.
export async function postLogin(agent, password, waiting = () => {}) {
  const giveUp = Date.now() + LOGIN_WAIT;
  for (;;) {
    const res = await fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agent, password }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status === 503 && (body.error === 'login_busy' || body.error === 'busy')) {
      const after = Math.min(Math.max(parseInt(res.headers.get('Retry-After'), 10) || 1, 1), 10) * 1000
        + Math.random() * 500;
      if (Date.now() + after < giveUp) {
        document.body.dataset.loginWaits = String(Number(document.body.dataset.loginWaits || 0) + 1);
        waiting();
        await new Promise((resolve) => setTimeout(resolve, after));
        continue;
      }
    }
    return { ok: res.ok && !!body.token, status: res.status, body };
  }
}

async function onLoginSubmit(ev) {
  ev.preventDefault();
  const agent = $('login-agent').value.trim();
  const password = $('login-password').value;
  if (!agent || !password) { setLoginError('请输入工号和密码'); return; }
  const button = $('login-submit');
  button.disabled = true;
  setLoginError('');
  try {
    const { ok, status, body } = await postLogin(agent, password,
      () => setLoginError('登录的人较多，正在排队，请稍候…', 'wait'));
    if (!ok) {
      setLoginError(LOGIN_ERRORS[body.error] || `登录失败（HTTP ${status}）`);
      return;
    }
    S.token = body.token;
    sessionStorage.setItem(TOKEN_KEY, body.token);
    S.agent = body.agent || null;
    renderAgent();
    $('login-password').value = '';
    startDesk();
  } catch (err) {
    setLoginError('无法连接服务器，请检查网络');
  } finally {
    button.disabled = false;
  }
}

// logout tells the desk socket (offers go back to the queue) and the API.
async function logout() {
  const token = S.token;
  if (isOpen()) send({ type: 'logout' }, { track: false });
  stop();
  try {
    await fetch('/api/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  } catch (_) { /* the token expires on its own */ }
  showLogin('');
}

export function initLogin() {
  $('login-form').addEventListener('submit', onLoginSubmit);
  $('btn-logout').addEventListener('click', logout);
  on('socket:ended', (m) => showLogin(m.text));
  on('socket:replaced', () => {
    $('desk-view').classList.add('inactive'); // this window no longer owns the work
    showBanner('已在其他窗口登录，本窗口已停止接件', '在此窗口继续', startDesk);
  });
}
