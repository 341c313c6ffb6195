// The reports page: logs a supervisor in as the desk does (the token lives
// in sessionStorage, never in a URL), fetches the HTML report with it and
// shows the report's own markup, which the server wrote with every value
// escaped (html/template). CSV and JSON are downloaded with the token too.
'use strict';
(() => {
  const TOKEN_KEY = 'lianxin.token';
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(TOKEN_KEY);

  function today() {
    // The hotline's day is China's (UTC+8).
    const d = new Date(Date.now() + 8 * 3600 * 1000);
    return d.toISOString().slice(0, 10);
  }

  function periodName(kind, date) {
    return kind === 'month' ? date.slice(0, 7) : date; // a week: any day in it
  }

  function showLogin(msg) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $('pick').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = msg || '';
  }

  async function fetchReport(format, query) {
    const url = `/api/reports/${$('kind').value}/${periodName($('kind').value, $('date').value)}.${format}${query || ''}`;
    const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
    if (res.status === 401) { showLogin('登录已过期，请重新登录'); return null; }
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      $('status').textContent = `无法生成报表：${body.message || res.status}`;
      return null;
    }
    $('status').textContent = '';
    return res;
  }

  async function show() {
    const params = new URLSearchParams({ kind: $('kind').value, date: $('date').value });
    history.replaceState(null, '', `?${params}`);
    const res = await fetchReport('html', '?part=main');
    if (!res) return;
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    const report = doc.getElementById('report');
    document.title = `12345热线 · ${report.querySelector('h1').textContent}`;
    $('report').replaceChildren(document.adoptNode(report));
  }

  async function download(format) {
    const res = await fetchReport(format);
    if (!res) return;
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `lianxin-${$('kind').value}-${periodName($('kind').value, $('date').value)}.${format}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  $('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const agent = $('login-agent').value.trim();
    const password = $('login-password').value;
    const res = await fetch('/api/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ agent, password }),
    }).catch(() => null);
    const body = res ? await res.json().catch(() => ({})) : {};
    if (!res || !res.ok || !body.token) {
      $('login-error').textContent = `登录失败：${body.message || '无法连接服务器'}`;
      return;
    }
    if (!body.agent || !body.agent.supervisor) {
      $('login-error').textContent = '报表仅供班长查看';
      return;
    }
    token = body.token;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('login-password').value = '';
    $('login').hidden = true;
    $('pick').hidden = false;
    show();
  });
  $('pick').addEventListener('submit', (ev) => { ev.preventDefault(); show(); });
  $('print').addEventListener('click', () => window.print());
  $('csv').addEventListener('click', () => download('csv'));
  $('json').addEventListener('click', () => download('json'));

  const q = new URLSearchParams(location.search);
  $('kind').value = ['day', 'week', 'month'].includes(q.get('kind')) ? q.get('kind') : 'day';
  $('date').value = /^\d{4}-\d{2}-\d{2}$/.test(q.get('date') || '') ? q.get('date') : today();
  if (token) {
    $('pick').hidden = false;
    show();
  } else {
    showLogin('');
  }
})();
