// The tablet's service worker: keeps a copy of the app shell so that a reload while
// the shop's Wi-Fi is down still opens the app. Network first (the server sends
// no-cache, so an update is picked up at once), the cached copy when the network fails.
// API calls are never cached: offline data lives in IndexedDB.

const CACHE = 'towncard-tablet-v1';
const BASE = new URL('./', self.location).pathname; // "/tablet/"

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // files.json lists every file the server embeds, so this list cannot go stale.
    const files = await fetch(BASE + 'files.json', { cache: 'no-store' }).then((r) => r.json()).catch(() => []);
    const urls = [BASE, ...files.filter((f) => f !== 'sw.js').map((f) => BASE + f)];
    await Promise.all(urls.map((u) => cache.add(new Request(u, { cache: 'no-store' })).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith(BASE)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      if (res.ok) cache.put(req, res.clone()).catch(() => {});
      return res;
    } catch (e) {
      const hit = (await cache.match(req, { ignoreSearch: true }))
        || (req.mode === 'navigate' ? await cache.match(BASE) : undefined);
      if (hit) return hit;
      throw e;
    }
  })());
});
