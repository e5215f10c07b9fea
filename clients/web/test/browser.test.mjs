// The demo page in headless Chromium (Debian's, driven by playwright-core) against a real
// `liger serve --http-port 0`: generated text must appear in the page piece by piece as the
// server-sent events arrive, not in one block at the end, and a session must carry over turns.
import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";
import { chromium } from "playwright-core";

import { startLigerServe } from "../../../tests/support/liger_serve.mjs";

const CHROMIUM = process.env.LIGER_CHROMIUM ?? "/usr/bin/chromium";

let server;
let browser;
let origin = "";

before(async () => {
  let address;
  ({ server, address } = await startLigerServe(["--http-port", "0"], "http on "));
  origin = `http://${address}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
});

// Generates from the page and returns the lengths the output text went through.
async function generate(page, prompt, maxTokens) {
  await page.fill("#prompt", prompt);
  await page.fill("#max-tokens", String(maxTokens));
  await page.evaluate(() => {
    window.lengths = [];
    const output = document.getElementById("output");
    new MutationObserver(() => window.lengths.push(output.textContent.length)).observe(output, {
      childList: true, characterData: true, subtree: true,
    });
  });
  await page.click("#send");
  await page.waitForFunction(() => /generated tokens/.test(document.getElementById("status").textContent),
    null, { timeout: 120_000 });
  return page.evaluate(() => window.lengths);
}

test("tokens appear in the page as they stream", async () => {
  const page = await browser.newPage();
  await page.goto(origin);
  const lengths = await generate(page, "The ship sailed", 48);
  const growth = lengths.filter((n, i) => n > 0 && (i === 0 || n > lengths[i - 1]));
  assert.ok(growth.length >= 5, `the text grew in ${growth.length} steps: ${lengths}`);
  assert.match(await page.textContent("#status"), /^length: \d+ prompt \+ 48 generated tokens$/);
  assert.ok((await page.textContent("#output")).length > 0);
  await page.close();
});

test("a session carries over turns", async () => {
  const page = await browser.newPage();
  await page.goto(origin);
  await page.check("#use-session");
  await generate(page, "Call me Ishmael.", 4);
  const first = await page.textContent("#status");
  await generate(page, " Some years ago", 4);
  const second = await page.textContent("#status");
  // The server-side state holds both turns: the second continued the first instead of starting over.
  const prompt = (status) => Number(/(\d+) prompt/.exec(status)[1]);
  const session = await page.evaluate(() => session);
  assert.match(session, /^[0-9a-f]{32}$/);
  const info = await (await fetch(`${origin}/v1/sessions/${session}`)).json();
  assert.equal(info.tokens, prompt(first) + 4 + prompt(second) + 4, `${first} / ${second}`);
  await page.close();
});
