// Ed25519 verification: WebCrypto where the engine has it (Chromium, node 20,
// Safari 17+), else the vendored tweetnacl (Safari 15/16 on older iPads).

// The group order L, little-endian: a signature's S must be below it. ed25519-dalek
// (the server) refuses S >= L; tweetnacl alone would accept S + L, so we check first.
const L = [
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

function canonicalS(signature) {
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i];
    if (s !== L[i]) return s < L[i];
  }
  return false; // S == L
}

let backend = "auto"; // "auto" | "webcrypto" | "tweetnacl"
let webCryptoWorks; // undefined until probed
let naclPromise;

// Tests force one implementation; the app leaves it on "auto".
export function useBackend(name) {
  if (!["auto", "webcrypto", "tweetnacl"].includes(name)) throw new Error(`unknown backend ${name}`);
  backend = name;
}

async function loadNacl() {
  naclPromise ??= import("../vendor/nacl-fast.min.js").then((mod) => {
    // node loads the UMD file as CommonJS (default export); a browser runs it as a
    // module script, where it registers `self.nacl`.
    const nacl = mod?.default?.sign ? mod.default : globalThis.nacl;
    if (!nacl?.sign?.detached?.verify) throw new Error("tweetnacl did not load");
    return nacl;
  });
  return naclPromise;
}

const keyCache = new Map(); // hex of the raw key -> CryptoKey

async function webCryptoVerify(publicKey, message, signature) {
  const id = Array.from(publicKey, (b) => b.toString(16).padStart(2, "0")).join("");
  let key = keyCache.get(id);
  if (!key) {
    key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    keyCache.set(id, key);
  }
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

async function naclVerify(publicKey, message, signature) {
  const nacl = await loadNacl();
  return nacl.sign.detached.verify(message, signature, publicKey);
}

// Probes WebCrypto Ed25519 once with a known-good signature (RFC 8032 test 1).
async function probeWebCrypto() {
  if (webCryptoWorks !== undefined) return webCryptoWorks;
  const hex = (s) => Uint8Array.from(s.match(/../g), (h) => parseInt(h, 16));
  try {
    webCryptoWorks =
      typeof crypto !== "undefined" &&
      !!crypto.subtle &&
      (await webCryptoVerify(
        hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
        new Uint8Array(0),
        hex(
          "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
      ));
  } catch {
    webCryptoWorks = false;
  }
  return webCryptoWorks;
}

// Which implementation verifies now ("webcrypto" or "tweetnacl").
export async function activeBackend() {
  if (backend !== "auto") return backend;
  return (await probeWebCrypto()) ? "webcrypto" : "tweetnacl";
}

// True when `signature` (64 bytes) is `publicKey`'s (32 bytes) over `message`.
export async function verifyEd25519(publicKey, message, signature) {
  if (publicKey?.length !== 32 || signature?.length !== 64) return false;
  if (!canonicalS(signature)) return false;
  if ((await activeBackend()) === "webcrypto") {
    try {
      return await webCryptoVerify(publicKey, message, signature);
    } catch {
      // A key WebCrypto cannot import is no key of ours.
      return false;
    }
  }
  return naclVerify(publicKey, message, signature);
}
