// What the tablet keeps. localStorage: the enrolment (credential) and the staff
// session; IndexedDB: the offline pack, the queue of offline redemptions and the
// outcomes of past syncs — both survive a reload and a browser restart.

const DEVICE = 'towncard.tablet.device';
const SESSION = 'towncard.tablet.session';

function readJson(key) {
  try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch { return null; }
}
function writeJson(key, value) {
  if (value == null) localStorage.removeItem(key); else localStorage.setItem(key, JSON.stringify(value));
}

/** {town, device_id, merchant_id, credential} once enrolled. */
export const device = () => readJson(DEVICE);
export const setDevice = (d) => writeJson(DEVICE, d);
/** {token, expires_at (ms), email, staff_user_id} while unlocked. */
export const session = () => {
  const s = readJson(SESSION);
  return s && s.expires_at > Date.now() ? s : null;
};
/** The last session even if expired: offline, a tablet keeps working until it can unlock again. */
export const lastSession = () => readJson(SESSION);
export const setSession = (s) => writeJson(SESSION, s);

/** A random UUID; crypto.randomUUID is missing on Safari < 15.4 and on plain http. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) {
    try { return crypto.randomUUID(); } catch { /* insecure context */ }
  }
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

let dbPromise = null;
function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open('towncard-tablet', 1);
    req.onupgradeneeded = () => {
      const d = req.result;
      d.createObjectStore('kv');
      d.createObjectStore('queue', { keyPath: 'id' });
      d.createObjectStore('outcomes', { keyPath: 'id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return dbPromise;
}

async function run(store, mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(store, mode);
    const req = fn(tx.objectStore(store));
    tx.oncomplete = () => resolve(req?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const getPack = () => run('kv', 'readonly', (s) => s.get('pack'));
export const putPack = (pack) => run('kv', 'readwrite', (s) => s.put(pack, 'pack'));
export const clearPack = () => run('kv', 'readwrite', (s) => s.delete('pack'));

/** Offline redemptions not yet confirmed by the server, oldest first. */
export async function queue() {
  const all = (await run('queue', 'readonly', (s) => s.getAll())) || [];
  return all.sort((a, b) => a.occurred_at.localeCompare(b.occurred_at));
}
export const enqueue = (item) => run('queue', 'readwrite', (s) => s.add(item));

/** Moves synced items from the queue to the outcomes in one transaction. */
export async function settle(outcomes) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(['queue', 'outcomes'], 'readwrite');
    for (const o of outcomes) {
      tx.objectStore('queue').delete(o.id);
      tx.objectStore('outcomes').put(o);
    }
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Outcomes of synced items, newest first. */
export async function outcomes() {
  const all = (await run('outcomes', 'readonly', (s) => s.getAll())) || [];
  return all.sort((a, b) => (b.synced_at || '').localeCompare(a.synced_at || ''));
}
