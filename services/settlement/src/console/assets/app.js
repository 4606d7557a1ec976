// The municipality console: plain DOM, no framework. Every number comes from the
// settlement API; amounts arrive as strings ("12.50") and are shown as given, with
// the decimal separator of the chosen language.
'use strict';

const state = { words: {}, lang: localStorage.getItem('lang') || 'sl', token: sessionStorage.getItem('token'),
  role: sessionStorage.getItem('role'), view: 'periods', periods: [], month: null, merchant: null };
const $ = (s) => document.querySelector(s);
const t = (k) => (state.words[state.lang] || {})[k] || k;
const canAct = () => state.role === 'town_admin';
const money = (s) => {
  if (s == null) return '';
  const v = Number(s).toFixed(2);
  return state.lang === 'en' ? v : v.replace('.', ',');
};
const month = (d) => d.slice(0, 7);

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) e.setAttribute(k, v);
  }
  for (const k of kids.flat()) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

async function api(path, opts = {}) {
  const headers = Object.assign({ authorization: 'Bearer ' + state.token }, opts.headers || {});
  const res = await fetch(path, Object.assign({}, opts, { headers }));
  if (res.status === 401) { logout(); throw new Error(t('login')); }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error((body.code || res.status) + ': ' + (body.message || ''));
  }
  return res;
}
const json = async (path, opts) => (await api(path, opts)).json();

function translate() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll('[data-t]').forEach((e) => { e.textContent = t(e.dataset.t); });
  $('#lang').value = state.lang;
}

function showError(e) { $('#error').textContent = e ? t('error') + ': ' + e.message : ''; }

function table(head, rows, numeric = []) {
  return el('table', {}, el('thead', {}, el('tr', {}, head.map((h) => el('th', {}, t(h))))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => el('td', { class: numeric.includes(i) ? 'num' : '' }, c))))));
}

// A cumulative budget-use line for the month, against the budget (used + left).
function burnChart(burn, budget, label) {
  const W = 620, H = 160, P = 30, n = Math.max(burn.length, 1);
  // Scale to the use, so a small burn is visible; the budget line shows when in range.
  const used = Math.max(...burn.map(Number), 0);
  const top = budget <= used * 1.5 ? Math.max(budget, used, 1) : Math.max(used * 1.2, 1);
  const x = (i) => P + (i / Math.max(n - 1, 1)) * (W - 2 * P);
  const y = (v) => H - P - (v / top) * (H - 2 * P);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`); svg.setAttribute('width', W); svg.setAttribute('height', H);
  svg.setAttribute('class', 'chart'); svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', label);
  const add = (tag, a) => { const e = document.createElementNS(ns, tag); for (const k in a) e.setAttribute(k, a[k]); svg.append(e); return e; };
  if (budget <= top) add('line', { x1: P, y1: y(budget), x2: W - P, y2: y(budget), stroke: '#c0392b', 'stroke-dasharray': '4 3' });
  add('line', { x1: P, y1: H - P, x2: W - P, y2: H - P, stroke: '#888' });
  add('polyline', { points: burn.map((v, i) => `${x(i)},${y(Number(v))}`).join(' '), fill: 'none', stroke: '#1f6f8b', 'stroke-width': 2 });
  const txt = (s, a) => { const e = add('text', Object.assign({ 'font-size': 11, fill: '#333' }, a)); e.textContent = s; };
  txt('1', { x: P, y: H - 10 }); txt(String(n) + ' ' + t('day'), { x: W - P - 40, y: H - 10 });
  txt(money(used) + ' € / ' + money(budget) + ' €', { x: P + 4, y: 14 });
  return svg;
}

async function loadPeriods() {
  state.periods = await json('/settlement/v1/periods');
  const sel = $('#period');
  sel.replaceChildren(...state.periods.map((p) => el('option', { value: month(p.month) }, month(p.month) + ' · ' + t(p.status))));
  if (!state.month || !state.periods.some((p) => month(p.month) === state.month)) {
    const closed = state.periods.find((p) => p.status !== 'open');
    state.month = month((closed || state.periods[0]).month);
  }
  sel.value = state.month;
}

async function confirmDialog(text) {
  const d = $('#confirm');
  $('#confirm-text').textContent = text;
  d.showModal();
  return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
}

const views = {
  async periods(v) {
    const now = month(new Date().toISOString());
    v.append(table(['period', 'status', 'closed', 'paid', 'bank_reference', ''], state.periods.map((p) => {
      const m = month(p.month);
      let action = '';
      if (canAct() && p.status === 'open' && m < now) {
        action = el('button', { class: 'primary', 'data-close': m, onclick: async () => {
          if (!(await confirmDialog(t('confirm_close') + ' ' + m))) return;
          await json(`/settlement/v1/periods/${m}/close`, { method: 'POST' });
          await loadPeriods(); render();
        } }, t('close'));
      } else if (canAct() && p.status === 'closed') {
        const ref = el('input', { placeholder: t('bank_reference'), 'data-ref': m, size: 14 });
        action = el('span', {}, ref, ' ', el('button', { 'data-pay': m, onclick: async () => {
          if (!ref.value.trim()) { ref.focus(); return; }
          await json(`/settlement/v1/periods/${m}/payout`, { method: 'POST',
            headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bank_reference: ref.value }) });
          await loadPeriods(); render();
        } }, t('pay')));
      }
      return [m, el('span', { class: 'status-' + p.status }, t(p.status)), (p.closed_at || '').slice(0, 16).replace('T', ' '),
        (p.paid_at || '').slice(0, 16).replace('T', ' '), p.bank_reference || '', action];
    })));
  },
  async promotions(v) {
    const s = await json(`/settlement/v1/periods/${state.month}/summary`);
    v.append(table(['promotion', 'count', 'discount', 'municipality', 'budget_used', 'budget_left'],
      s.promotions.map((p) => [p.name, p.redemptions, money(p.discount), money(p.municipality), money(p.budget_used), money(p.budget_left)]),
      [1, 2, 3, 4, 5]));
    for (const p of s.promotions) {
      v.append(el('h3', {}, p.name + ' — ' + t('chart')));
      v.append(burnChart(p.burn, Number(p.budget_used) + Number(p.budget_left), p.name));
    }
  },
  async merchants(v) {
    const s = await json(`/settlement/v1/periods/${state.month}/summary`);
    const rows = s.merchants.map((m) => [m.name, m.redemptions, money(m.basket), money(m.discount), money(m.municipality),
      money(m.merchant_share), money(m.adjustments)]);
    rows.push([el('strong', {}, t('total')), s.totals.redemptions, money(s.totals.basket), money(s.totals.discount),
      money(s.totals.municipality), money(s.totals.merchant_share), money(s.totals.adjustments)]);
    v.append(table(['merchant', 'count', 'basket', 'discount', 'municipality', 'merchant_share', 'adjustments'], rows, [1, 2, 3, 4, 5, 6]));
  },
  async downloads(v) {
    const links = await json(`/settlement/v1/periods/${state.month}/downloads`);
    v.append(el('ul', {}, links.map((l) => {
      const out = el('span', { class: 'digest', 'data-digest': l.name });
      return el('li', {}, el('button', { 'data-download': l.name, onclick: async () => {
        try {
          const res = await api(l.url + '?lang=' + state.lang);
          const blob = await res.blob();
          out.textContent = ' SHA-256 ' + res.headers.get('x-content-sha256') + ' (' + blob.size + ' B)';
          const a = el('a', { href: URL.createObjectURL(blob), download: l.name });
          document.body.append(a); a.click(); a.remove();
        } catch (e) { showError(e); }
      } }, l.name), out);
    })));
  },
  async reconciliation(v) {
    const s = await json(`/settlement/v1/periods/${state.month}/summary`);
    const pick = el('select', { id: 'merchant', onchange: () => { state.merchant = pick.value; render(); } },
      s.merchants.map((m) => el('option', { value: m.merchant_id }, m.name)));
    if (!state.merchant && s.merchants[0]) state.merchant = s.merchants[0].merchant_id;
    pick.value = state.merchant || '';
    v.append(el('label', {}, t('merchant') + ' ', pick));
    if (!state.merchant) return;
    const r = await json(`/settlement/v1/periods/${state.month}/merchants/${state.merchant}/reconciliation`);
    v.append(el('p', {}, r.confirmed ? '✔ ' + t('confirmed') : ''));
    v.append(table(['receipt', 'status', 'ours', 'theirs', 'decision', ''], r.items.map((i) => {
      // adjust corrects a booked redemption; a receipt missing from the statement has none.
      const choices = i.status === 'missing_in_statement' ? ['accept', 'reject'] : ['accept', 'reject', 'adjust'];
      const act = canAct() && i.status !== 'matched' ? el('span', {}, choices.map((d) =>
        el('button', { 'data-decide': d, 'data-receipt': i.receipt_number, onclick: async () => {
          const body = { decision: d, note: '' };
          if (d === 'adjust') body.amount = i.their_discount || i.our_discount || '0.00';
          await api(`/settlement/v1/periods/${state.month}/merchants/${state.merchant}/reconciliation/${encodeURIComponent(i.receipt_number)}`,
            { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
          render();
        } }, t(d)))) : '';
      return [i.receipt_number, el('span', { class: 'rec-' + i.status }, t(i.status)),
        money(i.our_discount), money(i.their_discount), i.decision ? t(i.decision) + (i.decision_amount ? ' ' + money(i.decision_amount) : '') : '', act];
    }), [2, 3]));
  },
};

async function render() {
  showError(null);
  document.querySelectorAll('nav button').forEach((b) => b.classList.toggle('active', b.dataset.view === state.view));
  const v = el('div', { 'data-view': state.view });
  try { await views[state.view](v); } catch (e) { showError(e); }
  $('#view').replaceChildren(v);
}

function logout() {
  sessionStorage.clear(); state.token = null; state.role = null; show();
}

async function show() {
  translate();
  const logged = Boolean(state.token);
  $('#login-form').hidden = logged; $('#app').hidden = !logged; $('#logout').hidden = !logged;
  $('#who').replaceChildren();
  if (!logged) return;
  $('#who').append(state.role.replace('_', ' '), state.role === 'auditor' ? el('span', { class: 'badge', id: 'read-only' }, ' ' + t('read_only')) : '');
  try { await loadPeriods(); } catch (e) { showError(e); }
  render();
}

document.addEventListener('DOMContentLoaded', async () => {
  state.words = await (await fetch('/settlement/console/i18n.json')).json();
  $('#lang').addEventListener('change', (e) => { state.lang = e.target.value; localStorage.setItem('lang', state.lang); show(); });
  $('#logout').addEventListener('click', logout);
  $('#period').addEventListener('change', (e) => { state.month = e.target.value; render(); });
  document.querySelectorAll('nav button').forEach((b) => b.addEventListener('click', () => { state.view = b.dataset.view; render(); }));
  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const res = await fetch('/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ town: f.get('town'), email: f.get('email'), password: f.get('password') }) });
    const body = await res.json();
    if (!res.ok) { $('#login-error').textContent = body.message || t('error'); return; }
    state.token = body.access_token; state.role = body.role;
    sessionStorage.setItem('token', state.token); sessionStorage.setItem('role', state.role);
    show();
  });
  show();
});
