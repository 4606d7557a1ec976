// Calls to the merchant-redemption API (same origin, bearer token). Every failure
// becomes an Error with a stable `.code`: the API's own code, or `network` when the
// server could not be reached (the app then works offline).

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
}

const TIMEOUT_MS = 8000;

export async function call(method, path, { token, body, key } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (key) headers['Idempotency-Key'] = key;
  // AbortController is in Safari 12.1+; the timer keeps a dead Wi-Fi from hanging the counter.
  const abort = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = abort ? setTimeout(() => abort.abort(), TIMEOUT_MS) : null;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort?.signal,
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError('network', e.message, 0);
  } finally {
    if (timer) clearTimeout(timer);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    // A proxy's 502/503/504 while the service is down is no different from no network.
    if (!data?.code && res.status >= 502) throw new ApiError('network', text, res.status);
    throw new ApiError(data?.code || `http_${res.status}`, data?.message || text, res.status);
  }
  return data;
}

const R = '/redemption/v1';

export const enrol = (town, code) => call('POST', `${R}/devices/enrol`, { body: { town, code } });
export const unlock = (credential, email, pin) =>
  call('POST', `${R}/devices/unlock`, { body: { credential, email, pin } });
export const offlinePack = (token) => call('GET', `${R}/devices/offline-pack`, { token });
export const scan = (token, card, basket) =>
  call('POST', `${R}/scan`, { token, body: { ...card, ...(basket ? { basket } : {}) } });
export const redeem = (token, key, card, promotionId, basket) =>
  call('POST', `${R}/redemptions`, { token, key, body: { ...card, promotion_id: promotionId, basket } });
export const today = (token) => call('GET', `${R}/redemptions`, { token });
export const voidRedemption = (token, key, id, reason) =>
  call('POST', `${R}/redemptions/${id}/void`, { token, key, body: { reason } });
export const refund = (token, key, id, amount, reason) =>
  call('POST', `${R}/redemptions/${id}/refund`, { token, key, body: { amount, reason } });
export const sync = (token, items) => call('POST', `${R}/offline/sync`, { token, body: { items } });
