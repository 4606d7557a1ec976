// The counter tablet: enrol → unlock → scan → amount → offers → confirm → receipt,
// today's list (void, refund) and offline redemption with a synced queue.
// Plain ES module, no build step. Online, the server decides everything; offline,
// the pure core (./core) verifies the QR with the cached keys and applies the cached
// rules, and the server re-checks each queued item at sync.

import * as api from './api.js';
import * as store from './store.js';
import { t, errorText, translate, lang, setLang } from './i18n.js';
import { Scanner } from './scanner.js';
import {
  checkCardNumber, formatCardNumber, parseAmount, parseMoney, formatAmount, toApi,
  verifyToken, cardByNumber, evaluate,
} from './core/index.js';

const $ = (sel) => document.querySelector(sel);
const S = {
  reachable: true,   // false after a request found no server, until a ping succeeds
  pack: null,        // the offline pack (IndexedDB)
  card: null,        // {ref, number, product, points, cardId, offline}
  amountText: '',
  cents: 0n,
  offers: [],
  offer: null,
  attemptKey: null,
  syncing: false,
  outcome: null,     // the last sync's summary line
};
let scanner = null;

// ---------- small helpers ----------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
/** Replaces a node's children, skipping null/false (optional rows). */
function fill(node, ...kids) {
  node.replaceChildren(...kids.flat().filter((k) => k != null && k !== false));
}
const money = (cents) => formatAmount(BigInt(cents), lang());
const apiMoney = (text) => (text == null ? null : parseMoney(text));
const zone = () => S.pack?.town?.time_zone || 'Europe/Ljubljana';
const isOnline = () => navigator.onLine !== false && S.reachable;
const mask = (number) => (number ? '•••• •••• ' + String(number).slice(-4) : '');

/** The local day (YYYY-MM-DD) of `date` in the town's zone. */
function localDay(date = new Date()) {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: zone(), year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(date);
  const p = (type) => parts.find((x) => x.type === type)?.value;
  return `${p('year')}-${p('month')}-${p('day')}`;
}
function when(iso) {
  try {
    return new Intl.DateTimeFormat(lang(), { timeZone: zone(), day: 'numeric', month: 'numeric', hour: '2-digit', minute: '2-digit' })
      .format(new Date(iso));
  } catch {
    return new Date(iso).toLocaleString();
  }
}

function show(id) {
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== id;
  document.body.dataset.screen = id;
  const unlocked = !!store.lastSession() && !['enrol', 'unlock'].includes(id);
  $('#lock').hidden = !unlocked;
  if (id !== 'scan') scanner?.stop();
  window.scrollTo(0, 0);
}

// ---------- network state ----------

let pingTimer = null;
function markUnreachable() {
  if (!S.reachable) return;
  S.reachable = false;
  renderNet();
  clearInterval(pingTimer);
  pingTimer = setInterval(ping, 10000);
}
async function ping() {
  if (navigator.onLine === false) return;
  try {
    const r = await fetch('/tablet/files.json', { cache: 'no-store' });
    if (r.ok) backOnline();
  } catch { /* still away */ }
}
function backOnline() {
  clearInterval(pingTimer);
  S.reachable = true;
  renderNet();
  refreshPack().then(() => autoSync());
}

async function renderNet() {
  const online = isOnline();
  document.body.classList.toggle('is-offline', !online);
  $('#net').className = 'net ' + (online ? 'on' : 'off');
  $('#net-text').textContent = online ? t('online') : t('offline').split(' — ')[0];
  $('#offline-banner').hidden = online || ['enrol', 'unlock'].includes(document.body.dataset.screen);
  const u = await allowanceUsed();
  const a = S.pack?.allowance;
  $('#allowance').textContent = a
    ? t('allowance', { count: u.count, max: a.count, amount: money(u.amount), maxAmount: money(parseMoney(a.amount)) })
    : t('no_pack');
  const n = (await store.queue()).length;
  const badge = $('#queue-count');
  badge.textContent = String(n);
  badge.hidden = n === 0;
}

// ---------- session ----------

function who() {
  const s = store.lastSession();
  const p = S.pack;
  const parts = [p?.merchant?.name, p?.device?.name, s?.email].filter(Boolean);
  $('#who').textContent = parts.join(' · ');
}

/** A request that needs the staff session; an expired session goes back to the PIN. */
async function authed(fn) {
  const s = store.session() || (isOnline() ? null : store.lastSession());
  if (!s) { showUnlock(); throw new api.ApiError('token_expired', ''); }
  try {
    const r = await fn(s.token);
    if (!S.reachable) { clearInterval(pingTimer); S.reachable = true; renderNet(); }
    return r;
  } catch (e) {
    if (e.code === 'network') markUnreachable();
    else if (e.code === 'device_revoked') { revoked(); }
    else if (e.status === 401) { store.setSession(null); showUnlock(); }
    throw e;
  }
}

function revoked() {
  store.setDevice(null);
  store.setSession(null);
  showEnrol();
  $('#enrol-error').textContent = errorText('device_revoked');
}

async function refreshPack() {
  if (!isOnline() || !store.session()) return;
  try {
    const pack = await authed((tok) => api.offlinePack(tok));
    if (pack) {
      await store.putPack(pack);
      S.pack = pack;
      who();
      renderNet();
    }
  } catch { /* keep the pack we have */ }
}

// ---------- enrol and unlock ----------

function showEnrol() {
  show('enrol');
  $('#enrol-form').reset();
}

$('#enrol-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const town = f.town.value.trim().toLowerCase();
  $('#enrol-error').textContent = '';
  try {
    const d = await api.enrol(town, f.code.value.trim().toUpperCase());
    store.setDevice({ town, device_id: d.device_id, merchant_id: d.merchant_id, credential: d.credential });
    await store.clearPack();
    S.pack = null;
    showUnlock();
  } catch (e) {
    $('#enrol-error').textContent = errorText(e.code, e.message);
  }
});

function showUnlock(message = '') {
  show('unlock');
  $('#unlock-form').reset();
  const last = store.lastSession();
  if (last?.email) $('#unlock-form').email.value = last.email;
  $('#unlock-error').textContent = message || (isOnline() ? '' : t('unlock_online'));
}

$('#unlock-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const dev = store.device();
  $('#unlock-error').textContent = '';
  try {
    const r = await api.unlock(dev.credential, f.email.value.trim(), f.pin.value);
    store.setSession({
      token: r.access_token,
      expires_at: Date.now() + r.expires_in * 1000,
      email: f.email.value.trim(),
      staff_user_id: r.staff_user_id,
    });
    f.pin.value = '';
    await refreshPack();
    who();
    showScan();
    autoSync();
  } catch (e) {
    if (e.code === 'network') markUnreachable();
    if (e.code === 'device_revoked') return revoked();
    $('#unlock-error').textContent = errorText(e.code, e.message);
  }
});

$('#lock').addEventListener('click', () => {
  store.setSession(null);
  showUnlock();
});

// ---------- scan ----------

function showScan() {
  show('scan');
  S.card = null;
  S.offer = null;
  $('#number-form').reset();
  $('#number-error').textContent = '';
  renderNet();
  scanner ??= new Scanner($('#camera'), $('#frame'));
  $('#scan-hint').textContent = t('scan_hint');
  $('#rescan').hidden = true;
  scanner.onIgnored = (seen) => {
    $('#scan-hint').textContent = seen ? t('same_card') : t('scan_hint');
    $('#rescan').hidden = !seen;
  };
  scanner.start((text) => useCard({ token: text })).catch(() => {
    $('#scan-hint').textContent = t('camera_off');
    document.body.classList.add('no-camera');
  });
}

// The check digit is checked as the 12th digit is typed: a typo never reaches the server.
$('#number-form').number.addEventListener('input', (ev) => {
  const digits = ev.target.value.replace(/\D/g, '');
  const c = checkCardNumber(ev.target.value);
  $('#number-error').textContent = digits.length >= 12 && !c.ok ? errorText(c.code, c.message) : '';
});

$('#rescan').addEventListener('click', () => {
  scanner?.setIgnore(null);
  showScan();
});

$('#number-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const c = checkCardNumber(ev.target.number.value);
  if (!c.ok) {
    $('#number-error').textContent = errorText(c.code, c.message);
    return;
  }
  useCard({ card_number: c.number });
});

/** The card checked by the tablet alone (offline): the cached keys and card list. */
async function offlineCard(ref) {
  const pack = S.pack;
  if (!pack) throw new api.ApiError('no_pack', t('no_pack'));
  if (pack.valid_until && Date.now() > Date.parse(pack.valid_until)) {
    throw new api.ApiError('offline_pack_expired', '');
  }
  const info = ref.token ? await verifyToken(ref.token, pack, new Date()) : cardByNumber(ref.card_number, pack);
  if (!info) throw new api.ApiError('card_unknown_offline', '');
  const used = await allowanceUsed();
  if (pack.allowance && used.count >= Number(pack.allowance.count)) {
    throw new api.ApiError('offline_allowance_exceeded', '');
  }
  return { ref, number: info.number, product: info.productCode, points: 0, cardId: info.cardId, offline: true };
}

async function useCard(ref) {
  scanner?.stop();
  try {
    if (isOnline()) {
      try {
        const r = await authed((tok) => api.scan(tok, ref));
        S.card = { ref, number: r.card.number, product: r.card.product, points: r.card.points, cardId: r.card.id, offline: false };
        return showAmount();
      } catch (e) {
        if (e.code !== 'network') throw e;
      }
    }
    S.card = await offlineCard(ref);
    showAmount();
  } catch (e) {
    if (e.code === 'token_expired' || e.code === 'device_revoked' || e.status === 401) return;
    showFailure(e.code, e.message);
  }
}

// ---------- amount ----------

function cardLine() {
  const c = S.card;
  return [el('span', { class: 'card-no' }, formatCardNumber(c.number)), el('span', { class: 'tag' }, c.product || ''),
    c.offline ? el('span', { class: 'tag warn' }, t('offline').split(' — ')[0]) : null];
}

function showAmount() {
  show('amount');
  S.amountText = '';
  fill($('#amount-card'), ...cardLine());
  $('#amount-error').textContent = '';
  renderAmount();
}

function renderAmount() {
  $('#amount-display').textContent = (S.amountText || '0') + ' €';
}

function typeKey(k) {
  let s = S.amountText;
  if (k === 'del') s = s.slice(0, -1);
  else if (k === ',' || k === '.') { if (!s.includes(',')) s = (s || '0') + ','; }
  else if (/^\d$/.test(k)) {
    const dec = s.split(',')[1];
    if (dec !== undefined && dec.length >= 2) return;
    if (s.replace(',', '').length >= 8) return;
    s = s === '0' ? k : s + k;
  }
  S.amountText = s;
  $('#amount-error').textContent = '';
  renderAmount();
}

$('#keypad').addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-key]');
  if (b) typeKey(b.dataset.key);
});
document.addEventListener('keydown', (ev) => {
  if (document.body.dataset.screen !== 'amount') return;
  if (/^[\d,.]$/.test(ev.key)) typeKey(ev.key);
  else if (ev.key === 'Backspace') typeKey('del');
  else if (ev.key === 'Enter') $('#amount-ok').click();
  else return;
  ev.preventDefault();
});
$('#amount-cancel').addEventListener('click', () => showScan());
$('#amount-ok').addEventListener('click', async () => {
  let cents;
  try {
    cents = parseAmount(S.amountText);
  } catch (e) {
    $('#amount-error').textContent = errorText(e.code || 'invalid_amount');
    return;
  }
  S.cents = cents;
  $('#amount-ok').disabled = true;
  try {
    await loadOffers();
  } finally {
    $('#amount-ok').disabled = false;
  }
});

// ---------- offers ----------

function localCounts(cardId, promotionId, items) {
  const today = localDay();
  const mine = items.filter((i) => i.card_id === cardId && i.promotion_id === promotionId);
  return {
    cardDay: mine.filter((i) => i.day === today).length,
    cardMerchant: mine.length,
    cardPromotion: mine.length,
  };
}

async function offlineOffers() {
  const items = [...(await store.queue()), ...(await store.outcomes()).filter((o) => o.status === 'accepted')];
  const used = await allowanceUsed();
  const maxAmount = S.pack.allowance ? parseMoney(S.pack.allowance.amount) : null;
  const now = new Date();
  return (S.pack.offers || []).map((o) => {
    const r = evaluate(o, { productCode: S.card.product, points: S.card.points || 0 }, S.cents, now, zone(),
      localCounts(S.card.cardId, o.promotion_id, items));
    const base = { promotion_id: o.promotion_id, name: o.name };
    if (!r.ok) return { ...base, available: false, refusal: r.code };
    if (maxAmount != null && used.amount + BigInt(r.municipality) > maxAmount) {
      return { ...base, available: false, refusal: 'offline_allowance_exceeded' };
    }
    return { ...base, available: true, discount: BigInt(r.discount), toPay: BigInt(r.toPay),
      municipality: BigInt(r.municipality), pointsEarned: r.pointsEarned ?? 0 };
  });
}

async function loadOffers() {
  try {
    if (!S.card.offline && isOnline()) {
      try {
        const r = await authed((tok) => api.scan(tok, S.card.ref, toApi(S.cents)));
        S.offers = r.offers.map((o) => ({
          promotion_id: o.promotion_id, name: o.name, available: o.available, refusal: o.refusal,
          discount: apiMoney(o.discount), toPay: apiMoney(o.to_pay), municipality: apiMoney(o.municipality_share),
          pointsEarned: o.points_earned ?? 0,
        }));
        return showOffers();
      } catch (e) {
        if (e.code !== 'network') throw e;
        S.card = await offlineCard(S.card.ref);
      }
    }
    S.offers = await offlineOffers();
    showOffers();
  } catch (e) {
    if (e.status === 401 || e.code === 'token_expired') return;
    if (e.code === 'invalid_amount') { $('#amount-error').textContent = errorText(e.code); return; }
    showFailure(e.code, e.message);
  }
}

function showOffers() {
  show('offers');
  fill($('#offers-card'), ...cardLine(), el('span', { class: 'basket' }, t('basket') + ' ' + money(S.cents)));
  const list = $('#offer-list');
  list.replaceChildren();
  if (!S.offers.length) list.append(el('p', { class: 'hint' }, t('no_offers')));
  for (const o of S.offers) {
    const b = el('button', { type: 'button', class: 'offer' + (o.available ? '' : ' unavailable'), disabled: !o.available,
      'data-promotion': o.promotion_id, onclick: () => chooseOffer(o) },
    el('span', { class: 'offer-name' }, o.name),
    o.available
      ? el('span', { class: 'offer-money' },
        el('span', { class: 'offer-discount' }, '−' + money(o.discount ?? 0n)),
        el('span', { class: 'offer-pay' }, t('to_pay') + ' ' + money(o.toPay ?? S.cents)))
      : el('span', { class: 'offer-refusal', 'data-code': o.refusal }, t('not_available') + ': ' + errorText(o.refusal, o.refusal)));
    list.append(b);
  }
}
$('#offers-back').addEventListener('click', () => showAmount());

// ---------- confirm and redeem ----------

function chooseOffer(o) {
  S.offer = o;
  S.attemptKey = store.uuid(); // one key per attempt: a double tap or a retry redeems once
  show('confirm');
  $('#confirm-error').textContent = '';
  const row = (k, v, cls) => [el('dt', {}, t(k)), el('dd', { class: cls || '' }, v)];
  fill($('#confirm-summary'),
    ...row('card', formatCardNumber(S.card.number)),
    ...row('offer', o.name),
    ...row('basket', money(S.cents)),
    ...row('discount', '−' + money(o.discount ?? 0n), 'strong'),
    ...row('to_pay', money(o.toPay ?? S.cents), 'big'),
  );
}
$('#confirm-cancel').addEventListener('click', () => showOffers());

$('#confirm-ok').addEventListener('click', async () => {
  const btn = $('#confirm-ok');
  if (btn.disabled) return;
  btn.disabled = true;
  try {
    if (!S.card.offline) {
      try {
        const r = await authed((tok) => api.redeem(tok, S.attemptKey, S.card.ref, S.offer.promotion_id, toApi(S.cents)));
        return showSuccess(serverReceipt(r), false);
      } catch (e) {
        // The request may have reached the server: retrying with the same key is safe,
        // queueing it offline under another id would not be.
        if (e.code === 'network') { $('#confirm-error').textContent = errorText('network'); return; }
        throw e;
      }
    }
    const item = await queueOffline();
    showSuccess(offlineReceipt(item), true);
  } catch (e) {
    if (e.status === 401 || e.code === 'token_expired') return;
    showFailure(e.code, e.message);
  } finally {
    btn.disabled = false;
  }
});

async function queueOffline() {
  const used = await allowanceUsed();
  const a = S.pack?.allowance;
  if (a && (used.count >= Number(a.count) || used.amount + (S.offer.municipality ?? 0n) > parseMoney(a.amount))) {
    throw new api.ApiError('offline_allowance_exceeded', '');
  }
  const now = new Date();
  const item = {
    id: S.attemptKey,
    token: S.card.ref.token ?? null,
    card_number: S.card.ref.card_number ?? null,
    promotion_id: S.offer.promotion_id,
    basket: toApi(S.cents),
    occurred_at: now.toISOString(),
    // What the tablet shows until the server answers:
    day: localDay(now),
    card_id: S.card.cardId,
    card: mask(S.card.number),
    offer_name: S.offer.name,
    discount: toApi(S.offer.discount ?? 0n),
    to_pay: toApi(S.offer.toPay ?? S.cents),
    municipality: toApi(S.offer.municipality ?? 0n),
    points_earned: S.offer.pointsEarned ?? 0,
  };
  await store.enqueue(item);
  renderNet();
  return item;
}

/** Offline redemptions of today that count against this tablet's allowance. */
async function allowanceUsed() {
  const today = localDay();
  const items = [...(await store.queue()), ...(await store.outcomes()).filter((o) => o.status === 'accepted')]
    .filter((i) => i.day === today);
  return { count: items.length, amount: items.reduce((s, i) => s + parseMoney(i.municipality || '0'), 0n) };
}

function serverReceipt(r) {
  return {
    number: r.receipt_number, merchant: r.merchant_name, offer: r.promotion_name, card: r.card,
    at: r.occurred_at, basket: r.basket, discount: r.discount, to_pay: r.to_pay,
    municipality: r.municipality_share, points: r.points_earned, status: r.status,
  };
}
function offlineReceipt(i) {
  return {
    number: null, merchant: S.pack?.merchant?.name, offer: i.offer_name, card: i.card, at: i.occurred_at,
    basket: i.basket, discount: i.discount, to_pay: i.to_pay, municipality: i.municipality,
    points: i.points_earned, status: 'pending',
  };
}

// ---------- result ----------

function verdict(kind, title, text) {
  show('result');
  $('#verdict').className = 'verdict ' + kind;
  $('#verdict-icon').textContent = kind === 'fail' ? '✕' : kind === 'queued' ? '↻' : '✓';
  $('#verdict-title').textContent = title;
  $('#verdict-text').textContent = text;
}

function showFailure(code, message) {
  verdict('fail', code === 'network' ? t('error') : t('refused'), errorText(code, message));
  $('#verdict').dataset.code = code || '';
  $('#receipt').hidden = true;
  $('#print').hidden = true;
}

function showSuccess(r, offline) {
  if (S.card?.ref?.token) scanner?.setIgnore(S.card.ref.token);
  verdict(offline ? 'queued' : 'ok', offline ? t('saved_offline') : t('redeemed'),
    `${t('discount')} ${money(parseMoney(r.discount))} · ${t('to_pay')} ${money(parseMoney(r.to_pay))}` +
    (offline ? ' — ' + t('saved_offline_text') : ''));
  $('#verdict').dataset.code = '';
  const row = (k, v) => el('div', { class: 'r-row' }, el('span', {}, t(k)), el('span', {}, v));
  fill($('#receipt'),
    el('h2', {}, r.merchant || t('receipt')),
    row('receipt_number', r.number || t('pending')),
    row('time', when(r.at)),
    row('card', r.card),
    row('offer', r.offer),
    row('basket', money(parseMoney(r.basket))),
    row('discount', '−' + money(parseMoney(r.discount))),
    el('div', { class: 'r-row total' }, el('span', {}, t('to_pay')), el('span', {}, money(parseMoney(r.to_pay)))),
    row('municipality', money(parseMoney(r.municipality))),
    r.points ? row('points_earned', String(r.points)) : null,
  );
  $('#receipt').hidden = false;
  $('#print').hidden = false;
}
$('#next').addEventListener('click', () => showScan());
$('#print').addEventListener('click', () => window.print());

// ---------- today ----------

const STATUS = { redeemed: 'redeemed_status', voided: 'voided', refunded: 'refunded', partially_refunded: 'partially_refunded' };

async function showToday() {
  show('today');
  $('#today-error').textContent = '';
  const list = $('#today-list');
  list.replaceChildren();
  const pending = await store.queue();
  for (const i of pending) {
    list.append(el('div', { class: 'row pending', 'data-pending': i.id },
      el('span', { class: 'r-no' }, '↻'), el('span', {}, when(i.occurred_at)), el('span', {}, i.card),
      el('span', {}, i.offer_name), el('span', {}, money(parseMoney(i.basket))),
      el('span', { class: 'strong' }, '−' + money(parseMoney(i.discount))), el('span', { class: 'tag warn' }, t('pending'))));
  }
  let rows = [];
  if (isOnline()) {
    try {
      rows = await authed((tok) => api.today(tok));
    } catch (e) {
      if (e.status === 401) return;
      $('#today-error').textContent = errorText(e.code, e.message);
    }
  } else {
    $('#today-error').textContent = t('offline');
  }
  for (const r of rows) list.append(todayRow(r));
  if (!pending.length && !rows.length && isOnline()) list.append(el('p', { class: 'hint' }, t('nothing_today')));
}

function todayRow(r) {
  const actions = el('span', { class: 'row-actions' });
  if (r.status === 'redeemed') {
    let key = null;
    const v = el('button', { type: 'button', class: 'ghost', 'data-void': r.receipt_number }, t('void'));
    v.addEventListener('click', async () => {
      if (!key) { // first tap arms, second tap voids
        key = store.uuid();
        v.textContent = t('confirm_void', { n: r.receipt_number });
        v.classList.add('danger');
        return;
      }
      await reverse(() => authed((tok) => api.voidRedemption(tok, key, r.id, 'voided at the counter')));
    });
    actions.append(v);
  }
  if (r.status === 'redeemed' || r.status === 'partially_refunded') {
    const form = el('form', { class: 'refund', 'data-refund': r.receipt_number },
      el('input', { name: 'amount', inputmode: 'decimal', placeholder: t('refund_amount'), 'aria-label': t('refund_amount') }),
      el('button', { type: 'submit', class: 'ghost' }, t('do_refund')));
    const key = store.uuid();
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      let cents;
      try { cents = parseAmount(form.amount.value); } catch (e) {
        $('#today-error').textContent = errorText(e.code || 'invalid_amount');
        return;
      }
      await reverse(() => authed((tok) => api.refund(tok, key, r.id, toApi(cents), 'refunded at the counter')));
    });
    actions.append(form);
  }
  return el('div', { class: 'row ' + r.status, 'data-receipt': r.receipt_number },
    el('span', { class: 'r-no' }, r.receipt_number), el('span', {}, when(r.occurred_at)), el('span', {}, r.card),
    el('span', {}, r.promotion_name), el('span', {}, money(parseMoney(r.basket))),
    el('span', { class: 'strong' }, '−' + money(parseMoney(r.discount))),
    el('span', { class: 'tag status-' + r.status }, t(STATUS[r.status] || r.status)), actions);
}

async function reverse(fn) {
  try {
    await fn();
    await showToday();
  } catch (e) {
    if (e.status === 401) return;
    $('#today-error').textContent = errorText(e.code, e.message);
  }
}

// ---------- sync ----------

const API_FIELDS = ['id', 'token', 'card_number', 'promotion_id', 'basket', 'occurred_at'];

async function autoSync() {
  if (isOnline() && store.session() && (await store.queue()).length) await doSync();
}

async function doSync() {
  if (S.syncing) return;
  S.syncing = true;
  $('#sync-now').disabled = true;
  $('#sync-status').textContent = '…';
  try {
    const items = await store.queue();
    if (!items.length) { S.outcome = t('sync_empty'); return; }
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < items.length; i += 200) {
      const batch = items.slice(i, i + 200);
      const body = batch.map((it) => Object.fromEntries(API_FIELDS.map((k) => [k, it[k]])));
      const r = await authed((tok) => api.sync(tok, body));
      const at = new Date().toISOString();
      const done = r.results.map((res) => {
        const it = batch.find((b) => b.id === res.id);
        if (res.status === 'accepted') accepted += 1; else rejected += 1;
        return { ...it, status: res.status, code: res.code ?? null, message: res.message ?? null,
          receipt_number: res.receipt?.receipt_number ?? null, synced_at: at };
      });
      await store.settle(done);
    }
    S.outcome = `${t('accepted')}: ${accepted} · ${t('rejected')}: ${rejected}`;
  } catch (e) {
    S.outcome = e.code === 'network' ? t('sync_failed') : errorText(e.code, e.message);
  } finally {
    S.syncing = false;
    $('#sync-now').disabled = false;
    renderNet();
    if (document.body.dataset.screen === 'sync') renderSync();
  }
}

async function renderSync() {
  $('#sync-status').textContent = S.outcome || '';
  const q = await store.queue();
  fill($('#sync-queue'), ...(q.length ? q.map((i) => el('div', { class: 'row pending', 'data-pending': i.id },
    el('span', {}, when(i.occurred_at)), el('span', {}, i.card), el('span', {}, i.offer_name),
    el('span', {}, money(parseMoney(i.basket))), el('span', { class: 'tag warn' }, t('pending'))))
    : [el('p', { class: 'hint' }, t('sync_empty'))]));
  const done = (await store.outcomes()).slice(0, 50);
  fill($('#sync-results'), ...done.map((o) => el('div', { class: 'row ' + o.status, 'data-outcome': o.status, 'data-id': o.id },
    el('span', { class: 'r-icon' }, o.status === 'accepted' ? '✓' : '✕'), el('span', {}, when(o.occurred_at)),
    el('span', {}, o.card), el('span', {}, o.offer_name), el('span', {}, money(parseMoney(o.basket))),
    el('span', { class: 'tag status-' + o.status }, t(o.status)),
    el('span', {}, o.status === 'accepted' ? (o.receipt_number || '') : errorText(o.code, o.message)))));
}

async function showSync() {
  show('sync');
  await renderSync();
}

$('#sync-now').addEventListener('click', async () => { await doSync(); });
for (const [id, fn] of [['#go-today', showToday], ['#go-sync', showSync], ['#today-back', showScan], ['#today-sync', showSync],
  ['#sync-back', showScan], ['#sync-today', showToday]]) {
  $(id).addEventListener('click', () => fn());
}

// ---------- start ----------

function applyLang() {
  translate();
  $('#lang').value = lang();
  renderNet();
}
$('#lang').addEventListener('change', (ev) => {
  setLang(ev.target.value);
  applyLang();
  const screen = document.body.dataset.screen;
  if (screen === 'offers') showOffers();
  else if (screen === 'today') showToday();
  else if (screen === 'sync') renderSync();
});

window.addEventListener('online', () => backOnline());
window.addEventListener('offline', () => renderNet());

async function start() {
  applyLang();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/tablet/sw.js', { scope: '/tablet/' }).catch(() => {});
  }
  try { S.pack = (await store.getPack()) || null; } catch { S.pack = null; }
  who();
  if (!store.device()) return showEnrol();
  // Offline the last session keeps working: unlocking needs the server.
  if (!store.session() && !(navigator.onLine === false && store.lastSession())) return showUnlock();
  showScan();
  refreshPack().then(() => autoSync());
  setInterval(() => { refreshPack(); autoSync(); }, 5 * 60 * 1000);
}

start();
