// The card's QR token, verified offline exactly as crates/cardtoken does
// (docs/qr-token.md): TC1: + Base45(protobuf SignedCard), Ed25519 over the claim
// bytes. Then the card checks of service::card::resolve against the offline pack.

import { checkCardNumber } from "./cardnumber.js";
import { verifyEd25519 } from "./ed25519.js";
import { fail } from "./errors.js";

export const PREFIX = "TC1:";
export const VERSION = 1;
export const MAX_LEN = 400;
const MAX_KID_LEN = 16;

const MESSAGES = {
  token_not_ours: "not a towncard QR code",
  token_too_long: "the QR payload is too long",
  token_malformed: "the QR payload is damaged",
  token_unsupported_version: "this card uses a newer QR format",
  token_unknown_key: "the QR code is signed with an unknown key",
  token_bad_signature: "the QR signature is not valid",
  token_wrong_town: "the QR code belongs to another town",
  card_replaced: "this card was replaced; use the new card",
  card_suspended: "this card is suspended",
  card_expired: "this card has expired",
  card_wrong_town: "this card belongs to another town",
  card_unknown_offline: "this card is not in the tablet's data; try again online",
};

function refuse(code) {
  fail(code, MESSAGES[code]);
}

// Rust's str::trim (Unicode White_Space), which differs from JS trim at U+FEFF and U+0085.
const WS = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const TRIM = new RegExp(`^${WS}+|${WS}+$`, "g");

const utf8 = new TextEncoder();

// --- Base45 (RFC 9285), as crates/cardtoken/src/base45.rs ---

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

export function base45Decode(s) {
  const values = [];
  for (const ch of s) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0 || ch.length !== 1) return null;
    values.push(v);
  }
  const out = [];
  for (let i = 0; i < values.length; i += 3) {
    const chunk = values.slice(i, i + 3);
    if (chunk.length === 3) {
      const n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45;
      if (n > 0xffff) return null;
      out.push(n >> 8, n & 0xff);
    } else if (chunk.length === 2) {
      const n = chunk[0] + chunk[1] * 45;
      if (n > 0xff) return null;
      out.push(n);
    } else {
      return null;
    }
  }
  return Uint8Array.from(out);
}

// --- Protobuf, decoded by hand with prost 0.14's rules: unknown fields (and groups)
// skipped, the last occurrence wins, uint32 is the varint truncated to 32 bits,
// a wrong wire type, a bad varint or a short buffer is an error. ---

class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.i = 0;
  }
  left() {
    return this.b.length - this.i;
  }
  varint() {
    let value = 0n;
    for (let count = 0; count < 10; count++) {
      if (this.i >= this.b.length) return null;
      const byte = this.b[this.i++];
      value |= BigInt(byte & 0x7f) << BigInt(count * 7);
      if (byte < 0x80) {
        if (count === 9 && byte >= 0x02) return null;
        return value;
      }
    }
    return null;
  }
  key() {
    const key = this.varint();
    if (key === null || key > 0xffffffffn) return null;
    const wire = Number(key & 7n);
    const tag = Number(key >> 3n);
    if (wire > 5 || tag < 1) return null;
    return { tag, wire };
  }
  bytes() {
    const len = this.varint();
    if (len === null || len > BigInt(this.left())) return null;
    const out = this.b.slice(this.i, this.i + Number(len));
    this.i += Number(len);
    return out;
  }
  // prost::encoding::skip_field with its recursion limit of 100.
  skip(wire, tag, depth) {
    if (depth === 0) return false;
    let len;
    switch (wire) {
      case 0:
        return this.varint() !== null;
      case 5:
        len = 4n;
        break;
      case 1:
        len = 8n;
        break;
      case 2:
        len = this.varint();
        if (len === null) return false;
        break;
      case 3:
        for (;;) {
          const k = this.key();
          if (k === null) return false;
          if (k.wire === 4) {
            if (k.tag !== tag) return false;
            break;
          }
          if (!this.skip(k.wire, k.tag, depth - 1)) return false;
        }
        len = 0n;
        break;
      default:
        return false;
    }
    if (len > BigInt(this.left())) return false;
    this.i += Number(len);
    return true;
  }
}

// fields: {tag: "uint32" | "bytes" | "string"}; returns {tag: value} or null.
function decodeMessage(bytes, fields) {
  const r = new Reader(bytes);
  const out = {};
  while (r.left() > 0) {
    const k = r.key();
    if (k === null) return null;
    const type = fields[k.tag];
    if (type === undefined) {
      if (!r.skip(k.wire, k.tag, 100)) return null;
      continue;
    }
    if (type === "uint32") {
      if (k.wire !== 0) return null;
      const v = r.varint();
      if (v === null) return null;
      out[k.tag] = Number(v & 0xffffffffn);
    } else {
      if (k.wire !== 2) return null;
      const v = r.bytes();
      if (v === null) return null;
      if (type === "string") {
        try {
          out[k.tag] = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(v);
        } catch {
          return null;
        }
      } else {
        out[k.tag] = v;
      }
    }
  }
  return out;
}

function uuidString(b) {
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Takes a token apart without checking the signature (cardtoken::parse). Throws
// a TabletError with the token_* code.
export function parseToken(text) {
  const t = String(text ?? "").replace(TRIM, "");
  if (utf8.encode(t).length > MAX_LEN) refuse("token_too_long");
  if (!t.startsWith(PREFIX)) refuse("token_not_ours");
  const bytes = base45Decode(t.slice(PREFIX.length));
  if (bytes === null) refuse("token_malformed");
  const signed = decodeMessage(bytes, { 1: "bytes", 2: "string", 3: "bytes" });
  if (signed === null) refuse("token_malformed");
  const claimBytes = signed[1] ?? new Uint8Array(0);
  const claim = decodeMessage(claimBytes, { 1: "uint32", 2: "uint32", 3: "bytes", 4: "uint32" });
  if (claim === null) refuse("token_malformed");
  if ((claim[1] ?? 0) !== VERSION) refuse("token_unsupported_version");
  const signature = signed[3] ?? new Uint8Array(0);
  const cardId = claim[3] ?? new Uint8Array(0);
  const townCode = claim[2] ?? 0;
  const kid = signed[2] ?? "";
  const kidLen = utf8.encode(kid).length;
  if (signature.length !== 64 || cardId.length !== 16 || townCode > 0xffff) refuse("token_malformed");
  if (kidLen === 0 || kidLen > MAX_KID_LEN) refuse("token_malformed");
  return {
    townCode,
    cardId: uuidString(cardId),
    tokenSerial: claim[4] ?? 0,
    kid,
    claimBytes,
    signature,
  };
}

function base64urlDecode(s) {
  const b64 = String(s).replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function keyFor(pack, kid) {
  const entry = (pack?.keys ?? []).find((k) => k.kid === kid);
  if (!entry) return null;
  try {
    const key = base64urlDecode(entry.public_key);
    return key.length === 32 ? key : null;
  } catch {
    return null;
  }
}

// cardtoken::verify: parse, key by kid, signature, then the town. Returns the claim.
export async function verifyClaim(text, pack) {
  const t = parseToken(text);
  const key = keyFor(pack, t.kid);
  if (!key) refuse("token_unknown_key");
  if (!(await verifyEd25519(key, t.claimBytes, t.signature))) refuse("token_bad_signature");
  if (t.townCode !== Number(pack?.town?.code)) refuse("token_wrong_town");
  return { townCode: t.townCode, cardId: t.cardId, tokenSerial: t.tokenSerial };
}

// RFC 3339 to epoch milliseconds (a fraction below the millisecond), also with microseconds (Postgres) which not
// every Safari's Date parses.
export function parseInstant(text) {
  const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/i.exec(
    String(text).trim(),
  );
  if (!m) return new Date(text).getTime();
  // Sub-millisecond digits are kept as a fraction, so 10:00:00.000001 is after 10:00.
  const frac = (m[7] ?? "").padEnd(9, "0").slice(0, 9);
  const sub = Number(frac.slice(3)) / 1e6;
  let t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], Number(frac.slice(0, 3))) + sub;
  if (m[8].toUpperCase() !== "Z") {
    const sign = m[8][0] === "-" ? -1 : 1;
    const hm = m[8].slice(1).replace(":", "");
    t -= sign * (Number(hm.slice(0, 2)) * 60 + Number(hm.slice(2))) * 60_000;
  }
  return t;
}

// pack.cards rows: [id, number, token_serial, product_code, status, expires_at|null].
function rowToCard(row) {
  const [cardId, number, tokenSerial, productCode, status, expiresAt] = row;
  return { cardId, number, tokenSerial: Number(tokenSerial), productCode, status, expiresAt: expiresAt ?? null };
}

// The checks of service::card::resolve after the card is found, in its order.
function checkCard(card, tokenSerial, now) {
  if (tokenSerial !== null && tokenSerial < card.tokenSerial) refuse("card_replaced");
  if (card.status === "suspended") refuse("card_suspended");
  if (card.status === "replaced") refuse("card_replaced");
  if (card.status === "expired") refuse("card_expired");
  if (card.expiresAt !== null && parseInstant(card.expiresAt) <= new Date(now).getTime()) {
    refuse("card_expired");
  }
  return {
    cardId: card.cardId,
    number: card.number,
    tokenSerial: card.tokenSerial,
    productCode: card.productCode,
    status: card.status,
  };
}

// Index of pack.cards by id and by number, rebuilt when the cards array changes.
const indexes = new WeakMap();

function index(pack) {
  const cards = Array.isArray(pack?.cards) ? pack.cards : [];
  let ix = indexes.get(cards);
  if (!ix || ix.length !== cards.length) {
    ix = { length: cards.length, byId: new Map(), byNumber: new Map() };
    for (const row of cards) {
      ix.byId.set(String(row[0]).toLowerCase(), row);
      ix.byNumber.set(String(row[1]), row);
    }
    indexes.set(cards, ix);
  }
  return ix;
}

// A scanned QR against the offline pack. Returns {cardId, number, tokenSerial,
// productCode, status} or throws a TabletError with the server's code.
export async function verifyToken(text, pack, now = new Date()) {
  const claim = await verifyClaim(text, pack);
  const row = index(pack).byId.get(claim.cardId);
  if (!row) refuse("card_unknown_offline");
  return checkCard(rowToCard(row), claim.tokenSerial, now);
}

// A typed card number against the offline pack (same answers as verifyToken).
export function cardByNumber(number, pack, now = new Date()) {
  const n = checkCardNumber(number);
  if (!n.ok) fail(n.code, n.message);
  if (n.townCode !== Number(pack?.town?.code)) refuse("card_wrong_town");
  const row = index(pack).byNumber.get(n.number);
  if (!row) refuse("card_unknown_offline");
  return checkCard(rowToCard(row), null, now);
}
