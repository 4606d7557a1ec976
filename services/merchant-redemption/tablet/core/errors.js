// One error type for the tablet core: `code` is the server's stable API code, so
// the app can show the same text online and offline.
export class TabletError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = "TabletError";
    this.code = code;
  }
}

export function fail(code, message) {
  throw new TabletError(code, message);
}
