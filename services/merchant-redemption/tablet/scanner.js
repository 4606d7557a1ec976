// The camera QR scanner: the browser's BarcodeDetector where it exists (Chrome on
// Android/macOS, not Safari or desktop Linux), else the vendored jsQR reading canvas
// frames. Safari on iPad needs playsinline+muted video and a secure context.

const IGNORE_MS = 2000;
// The ignored card survives a reload of the page (as a SHA-256 digest, not the token).
const IGNORE_KEY = 'towncard.scanner.ignore';

async function digest(text) {
  if (!globalThis.crypto?.subtle) return null;
  const bytes = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

function storage() {
  try { return globalThis.sessionStorage ?? null; } catch { return null; }
}

let jsqrLoading = null;
function loadJsQR() {
  jsqrLoading ??= new Promise((resolve, reject) => {
    if (globalThis.jsQR) return resolve(globalThis.jsQR);
    const s = document.createElement('script');
    s.src = new URL('./vendor/jsQR.js', import.meta.url).href;
    s.onload = () => resolve(globalThis.jsQR);
    s.onerror = () => reject(new Error('jsQR did not load'));
    document.head.appendChild(s);
  });
  return jsqrLoading;
}

async function nativeDetector() {
  if (typeof globalThis.BarcodeDetector !== 'function') return null;
  try {
    const formats = await globalThis.BarcodeDetector.getSupportedFormats();
    if (!formats.includes('qr_code')) return null;
    return new globalThis.BarcodeDetector({ formats: ['qr_code'] });
  } catch {
    return null;
  }
}

export class Scanner {
  constructor(video, canvas) {
    this.video = video;
    this.canvas = canvas;
    this.stream = null;
    this.running = false;
    this.engine = null;
    // The last card redeemed: still in front of the camera, it must not start a second
    // redemption. It is ignored until it has been out of view for IGNORE_MS.
    this.ignore = null;
    this.ignoreDigest = storage()?.getItem(IGNORE_KEY) ?? null;
    this.ignoreSeen = 0;
    this.onIgnored = null;
    this.gen = 0;
  }

  /** Ignore `text` while it stays in view (null: forget). */
  setIgnore(text) {
    this.ignore = text;
    this.ignoreDigest = null;
    this.ignoreSeen = Date.now();
    const store = storage();
    if (!text) { store?.removeItem(IGNORE_KEY); return; }
    digest(text).then((d) => {
      if (d && this.ignore === text) store?.setItem(IGNORE_KEY, d);
    }).catch(() => {});
  }

  /** Starts the camera and calls `onCode(text)` once for the first QR seen. Throws when there is no camera. */
  async start(onCode) {
    this.stop();
    this.ignoreSeen = Date.now(); // the time on another screen does not count as out of view
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('no camera API');
    this.running = true;
    const gen = ++this.gen; // a later start() or stop() ends this one
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    if (!this.running || gen !== this.gen) {
      for (const tr of stream.getTracks()) tr.stop();
      return;
    }
    this.stream = stream;
    const v = this.video;
    v.setAttribute('playsinline', '');
    v.muted = true;
    v.srcObject = this.stream;
    await v.play().catch(() => {});
    const native = await nativeDetector();
    const jsQR = native ? null : await loadJsQR();
    this.engine = native ? 'BarcodeDetector' : 'jsQR';
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    if (gen !== this.gen) return;
    const tick = async () => {
      if (!this.running || gen !== this.gen) return;
      let text = null;
      let read = false;
      try {
        if (v.readyState >= 2 && v.videoWidth > 0) {
          read = true;
          if (native) {
            const found = await native.detect(v);
            text = found[0]?.rawValue ?? null;
          } else {
            // Scale down big frames: jsQR is fast enough on ~640 px and much slower above.
            const scale = Math.min(1, 800 / Math.max(v.videoWidth, v.videoHeight));
            const w = Math.round(v.videoWidth * scale);
            const h = Math.round(v.videoHeight * scale);
            this.canvas.width = w;
            this.canvas.height = h;
            ctx.drawImage(v, 0, 0, w, h);
            const img = ctx.getImageData(0, 0, w, h);
            text = jsQR(img.data, w, h, { inversionAttempts: 'dontInvert' })?.data ?? null;
          }
        }
      } catch { /* a frame that cannot be read; try the next */ }
      // Only the digest is known after a reload: the first matching read restores the card.
      if (text && !this.ignore && this.ignoreDigest && (await digest(text).catch(() => null)) === this.ignoreDigest) {
        this.ignore = text;
      }
      if (gen !== this.gen) return;
      if ((this.ignore || this.ignoreDigest) && read) {
        if (text && text === this.ignore) {
          this.ignoreSeen = Date.now();
          this.onIgnored?.(true);
          text = null;
        } else if (Date.now() - this.ignoreSeen > IGNORE_MS) {
          this.ignore = null;
          this.ignoreDigest = null;
          storage()?.removeItem(IGNORE_KEY);
          this.onIgnored?.(false);
        }
      }
      if (gen !== this.gen) return;
      if (text && this.running) {
        this.stop();
        onCode(text);
        return;
      }
      this.timer = setTimeout(tick, 120);
    };
    tick();
  }

  stop() {
    this.gen += 1;
    this.running = false;
    clearTimeout(this.timer);
    if (this.stream) for (const tr of this.stream.getTracks()) tr.stop();
    this.stream = null;
    if (this.video) this.video.srcObject = null;
  }
}
