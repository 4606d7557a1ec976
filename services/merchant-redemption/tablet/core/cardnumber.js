// The printed card number (kernel::CardNumber): 3-digit town code, 8-digit serial,
// one Damm check digit. A mistyped number is refused before any lookup.

const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

export function damm(digits) {
  let interim = 0;
  for (const ch of digits) interim = DAMM[interim][ch.charCodeAt(0) - 48];
  return interim;
}

// Spaces and dashes are ignored, as people type them. Codes as the server's:
// card_number_invalid (not 12 digits, town code below 100) or card_number_check_digit.
export function checkCardNumber(text) {
  const digits = String(text ?? "").replace(/[ -]/g, "");
  if (!/^[0-9]{12}$/.test(digits)) {
    return { ok: false, code: "card_number_invalid", message: "a card number has 12 digits" };
  }
  if (damm(digits) !== 0) {
    return {
      ok: false,
      code: "card_number_check_digit",
      message: "the check digit does not match: the number was mistyped",
    };
  }
  const townCode = Number(digits.slice(0, 3));
  if (townCode < 100) {
    return { ok: false, code: "card_number_invalid", message: "town code must be 100..=999" };
  }
  return { ok: true, number: digits, townCode };
}

// The 12 digits with their check digit for a town code and serial (tests, demos).
export function makeCardNumber(townCode, serial) {
  const body = String(townCode).padStart(3, "0") + String(serial).padStart(8, "0");
  return body + String(damm(body));
}

// "1010 0000 0423", as printed.
export function formatCardNumber(number) {
  const d = String(number).replace(/[ -]/g, "");
  return d.length === 12 ? `${d.slice(0, 4)} ${d.slice(4, 8)} ${d.slice(8)}` : d;
}
