// The tablet's offline QR verifier against proto/testvectors/qr-v1.json (the same
// file crates/cardtoken/tests/vectors.rs runs), with WebCrypto and with tweetnacl.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  activeBackend,
  cardByNumber,
  makeCardNumber,
  parseToken,
  useBackend,
  verifyClaim,
  verifyEd25519,
  verifyToken,
} from "../core/index.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../../../proto/testvectors/qr-v1.json", import.meta.url), "utf8"),
);
const edge = JSON.parse(
  readFileSync(new URL("../../tests/vectors/qr-edge.json", import.meta.url), "utf8"),
);
const CARD = "01935b2e-8c4a-7d10-9f3e-0a1b2c3d4e5f";
const NUMBER = makeCardNumber(101, 4711);
const b64url = (hex) => Buffer.from(hex, "hex").toString("base64url");

function pack(townCode, serial, extra = {}) {
  return {
    town: { id: "t", slug: "koper", name: "Koper", code: townCode, time_zone: "Europe/Ljubljana" },
    keys: vectors.keys.map((k) => ({ kid: k.kid, public_key: b64url(k.public_key_hex) })),
    cards: [[CARD, NUMBER, serial, "KC24", extra.status ?? "active", extra.expires_at ?? null]],
  };
}

async function answer(text, p, now) {
  try {
    const card = await verifyToken(text, p, now);
    return { code: "ok", card };
  } catch (e) {
    assert.equal(typeof e.code, "string", `${e}`);
    return { code: e.code };
  }
}

const VALID = vectors.vectors.find((v) => v.name === "valid").token;

for (const backend of ["webcrypto", "tweetnacl"]) {
  test(`every committed vector gives its expected answer (${backend})`, async () => {
    useBackend(backend);
    assert.equal(await activeBackend(), backend);
    assert.ok(vectors.vectors.length >= 13);
    for (const v of vectors.vectors) {
      const got = await answer(v.token, pack(v.town_code, v.current_token_serial));
      assert.equal(got.code, v.expect, `vector ${v.name}`);
      if (v.card_id) {
        assert.equal(got.card.cardId, v.card_id, v.name);
        assert.equal(got.card.tokenSerial, v.token_serial, v.name);
        assert.equal(got.card.productCode, "KC24");
        assert.equal(got.card.number, NUMBER);
      }
    }
    useBackend("auto");
  });

  test(`the decoder edge cases give cardtoken's answers (${backend})`, async () => {
    useBackend(backend);
    const p = {
      town: { code: edge.town_code },
      keys: edge.keys.map((k) => ({ kid: k.kid, public_key: b64url(k.public_key_hex) })),
    };
    assert.ok(edge.vectors.length >= 50);
    const wrong = [];
    for (const v of edge.vectors) {
      let got;
      try {
        const c = await verifyClaim(v.token, p);
        got = { expect: "ok", card_id: c.cardId, token_serial: c.tokenSerial };
      } catch (e) {
        got = { expect: e.code ?? String(e) };
      }
      const want = { expect: v.expect, ...(v.card_id ? { card_id: v.card_id, token_serial: v.token_serial } : {}) };
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${v.name}: ${JSON.stringify(got)}`);
    }
    assert.deepEqual(wrong, []);
    useBackend("auto");
  });

  test(`a signature with S + L is refused like ed25519-dalek does (${backend})`, async () => {
    useBackend(backend);
    const t = parseToken(VALID);
    const sig = Uint8Array.from(t.signature);
    const L = Buffer.from("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", "hex");
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const s = sig[32 + i] + L[i] + carry;
      sig[32 + i] = s & 0xff;
      carry = s >> 8;
    }
    assert.equal(carry, 0);
    const key = Buffer.from(vectors.keys[0].public_key_hex, "hex");
    assert.equal(await verifyEd25519(key, t.claimBytes, t.signature), true);
    assert.equal(await verifyEd25519(key, t.claimBytes, sig), false);
    useBackend("auto");
  });
}

test("the card checks follow service::card::resolve", async () => {
  const now = new Date("2026-11-21T10:00:00Z");
  const code = async (extra, serial = 1) => (await answer(VALID, pack(101, serial, extra), now)).code;
  assert.equal(await code({}), "ok");
  assert.equal(await code({ status: "issued" }), "ok");
  assert.equal(await code({ status: "suspended" }), "card_suspended");
  assert.equal(await code({ status: "replaced" }), "card_replaced");
  assert.equal(await code({ status: "expired" }), "card_expired");
  assert.equal(await code({ expires_at: "2026-11-21T10:00:00Z" }), "card_expired");
  assert.equal(await code({ expires_at: "2026-11-21T10:00:00.000001Z" }), "ok");
  assert.equal(await code({ expires_at: "2026-11-21T11:00:01+01:00" }), "ok");
  assert.equal(await code({ expires_at: "2026-11-21T10:59:59+01:00" }), "card_expired");
  // A newer serial wins over the status: the old QR of a replaced card.
  assert.equal(await code({ status: "suspended" }, 2), "card_replaced");
  const empty = { ...pack(101, 1), cards: [] };
  assert.equal((await answer(VALID, empty, now)).code, "card_unknown_offline");
  // The signature is checked before the card, so a forged token never says "unknown".
  const other = vectors.vectors.find((v) => v.name === "forged_with_other_key").token;
  assert.equal((await answer(other, empty, now)).code, "token_bad_signature");
  // Whitespace around a scanned text is ignored, as in cardtoken::parse.
  assert.equal((await answer(`  ${VALID}\n`, pack(101, 1), now)).code, "ok");
});

test("parseToken reads the claim without a key", () => {
  const t = parseToken(VALID);
  assert.equal(t.townCode, 101);
  assert.equal(t.cardId, CARD);
  assert.equal(t.tokenSerial, 1);
  assert.equal(t.kid, "k1");
  assert.equal(t.signature.length, 64);
  assert.throws(() => parseToken("https://example.com"), { code: "token_not_ours" });
  assert.throws(() => parseToken("TC1:a"), { code: "token_malformed" });
  assert.throws(() => parseToken(`TC1:${"0".repeat(400)}`), { code: "token_too_long" });
});

test("a typed card number is found in the pack", () => {
  const now = new Date("2026-11-21T10:00:00Z");
  const p = pack(101, 1);
  const spaced = `${NUMBER.slice(0, 4)} ${NUMBER.slice(4, 8)}-${NUMBER.slice(8)}`;
  assert.equal(cardByNumber(spaced, p, now).cardId, CARD);
  const typo = NUMBER.slice(0, 11) + String((Number(NUMBER[11]) + 1) % 10);
  assert.throws(() => cardByNumber(typo, p, now), { code: "card_number_check_digit" });
  assert.throws(() => cardByNumber("1234", p, now), { code: "card_number_invalid" });
  assert.throws(() => cardByNumber(makeCardNumber(102, 4711), p, now), { code: "card_wrong_town" });
  assert.throws(() => cardByNumber(makeCardNumber(101, 4712), p, now), { code: "card_unknown_offline" });
  const suspended = pack(101, 1, { status: "suspended" });
  assert.throws(() => cardByNumber(NUMBER, suspended, now), { code: "card_suspended" });
});
