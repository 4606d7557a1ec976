// Runs tablet/test/browser.html in headless Chromium (a static server over the
// repository), so the modules are proven in a browser too: ES modules without a
// build step, the vendored tweetnacl loaded as a module script, Intl time zones.
// Skipped when no Chromium is installed (set CHROMIUM to its path).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const browser = [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
  .find((p) => p && existsSync(p));

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".html": "text/html" };

function serve() {
  const server = createServer((req, res) => {
    const path = normalize(join(ROOT, decodeURIComponent(new URL(req.url, "http://x").pathname)));
    const allowed = ["proto", "services/merchant-redemption/tablet", "services/merchant-redemption/tests/vectors"]
      .some((dir) => path.startsWith(join(ROOT, dir) + sep));
    if (!allowed || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
    res.end(readFileSync(path));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

test("the core gives the same answers in Chromium", { skip: !browser && "no Chromium" }, async () => {
  const server = await serve();
  const url = `http://127.0.0.1:${server.address().port}/services/merchant-redemption/tablet/test/browser.html`;
  try {
    const dom = await new Promise((ok, fail) => {
      execFile(
        browser,
        ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000", "--dump-dom", url],
        { timeout: 60_000, maxBuffer: 1 << 24 },
        (err, stdout) => (err ? fail(err) : ok(stdout)),
      );
    });
    const m = /<pre id="done">([^<]*)<\/pre>/.exec(dom);
    assert.ok(m, `the page did not finish: ${dom.slice(0, 500)}`);
    const r = JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"));
    assert.deepEqual(r.errors, []);
    assert.equal(r.auto, "webcrypto", "Chromium has Ed25519 in WebCrypto");
    for (const backend of ["webcrypto", "tweetnacl"]) {
      assert.equal(r.token[backend].active, backend);
      assert.ok(r.token[backend].count >= 13);
      assert.deepEqual(r.token[backend].wrong, [], backend);
    }
    assert.ok(r.edge.count >= 50);
    assert.deepEqual(r.edge.wrong, []);
    assert.ok(r.ruleCount >= 40);
    assert.deepEqual(r.rules, []);
    assert.deepEqual(r.money, ["1.234,50 €", "12.50"]);
  } finally {
    server.close();
  }
});
