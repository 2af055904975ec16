// The browser path, in a real browser: headless Chromium loads a page from one origin
// (http://localhost:<port>, served here) that calls a live gateway on another
// (http://127.0.0.1:<port>, CORS allowed for the page's origin only) with the connect-web client
// over Connect JSON, Connect binary and gRPC-Web, and follows the event log with Server-Sent
// Events across a dropped connection. The page is test/browser/page.ts, bundled with esbuild.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import puppeteer, { type Browser } from "puppeteer-core";
import { startGateway, type Gateway } from "./gateway.js";
import type { PageResult } from "./browser/page.js";

const here = dirname(fileURLToPath(import.meta.url));
// Bounds a hang only (start-up of Chromium and the whole page flow), never a timing assertion.
const pageLimitMs = 180_000;

// Debian's chromium, as the Go browser test (server/docs) uses; COVERGATE_CHROMIUM overrides.
function chromiumPath(): string {
  const fromEnv = process.env.COVERGATE_CHROMIUM;
  if (fromEnv) return fromEnv;
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) if (existsSync(p)) return p;
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("chromium not found: apt-get install -y chromium (.ci/run does) or set COVERGATE_CHROMIUM");
  }
}

async function bundlePage(): Promise<string> {
  // The compiled page (dist/test/browser/page.js) and everything it imports, for the browser.
  const out = await build({
    entryPoints: [join(here, "browser", "page.js")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    write: false,
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

function servePage(script: string): Promise<Server> {
  const html = `<!doctype html><meta charset="utf-8"><title>covergate browser test</title>
<script type="module" src="/page.js"></script>`;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path === "/page.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" }).end(script);
    } else if (path === "/") {
      res.writeHead(200, { "Content-Type": "text/html" }).end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((res) => server.listen(0, "127.0.0.1", () => res(server)));
}

describe("connect-web and Server-Sent Events in headless Chromium", () => {
  let gw: Gateway;
  let pageServer: Server;
  let browser: Browser;
  let profile: string;
  let pageOrigin: string;

  before(async () => {
    pageServer = await servePage(await bundlePage());
    // localhost is a secure context (the page needs Web Crypto's randomUUID) and a different
    // origin from the gateway's 127.0.0.1.
    pageOrigin = `http://localhost:${(pageServer.address() as AddressInfo).port}`;
    gw = await startGateway(["--cors-origins", pageOrigin, "--sse-heartbeat", "1s"]);
    profile = await mkdtemp(join(tmpdir(), "covergate-chromium-"));
    browser = await puppeteer.launch({
      executablePath: chromiumPath(),
      headless: true,
      userDataDir: profile,
      args: [
        "--no-sandbox", // CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise((res) => pageServer?.close(res));
    await gw?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("calls the gateway across origins and follows its events", { timeout: pageLimitMs }, async () => {
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`pageerror: ${String(e)}`));
    const url = new URL(`${pageOrigin}/`);
    url.searchParams.set("gateway", gw.httpBaseUrl);
    url.searchParams.set("token", gw.token);
    await page.goto(url.toString());
    await page.waitForFunction(() => window.covergateResult !== undefined, { timeout: pageLimitMs });
    const result = (await page.evaluate(() => window.covergateResult)) as PageResult | { error: string };
    const context = () => `\nbrowser console:\n${logs.join("\n")}\ngateway:\n${gw.logs().slice(-4000)}`;
    if ("error" in result && !("protocols" in result)) assert.fail(`the page failed: ${result.error}${context()}`);
    const r = result as PageResult;
    if (process.env.COVERGATE_DEBUG_PAGE) process.stderr.write(JSON.stringify(r, null, 1) + "\n");

    assert.notEqual(r.pageOrigin, r.gatewayOrigin, "the page and the gateway are different origins");
    assert.deepEqual(r.protocols.map((p) => p.protocol), ["connect+json", "connect+proto", "grpc-web"]);
    for (const p of r.protocols) {
      assert.ok(p.quoteId && p.policyId, `${p.protocol}: CreateQuote and CreatePolicy answered ids`);
      assert.equal(p.gotPolicyId, p.policyId, `${p.protocol}: GetPolicy reads the policy back`);
      assert.equal(p.gotQuoteId, p.quoteId, `${p.protocol}: the policy is the quote's`);
      assert.equal(p.retryPolicyId, p.policyId, `${p.protocol}: same idempotency key, same policy`);
      assert.deepEqual(p.invalid, { code: "INVALID_ARGUMENT", reason: "VALIDATION_FAILED", field: "policy_id" }, p.protocol);
      assert.deepEqual(p.unauthenticated, { code: "UNAUTHENTICATED", reason: "UNAUTHENTICATED" }, p.protocol);
    }

    const sse = r.sse;
    assert.ok(sse.connections >= 2, `the stream was dropped and reopened (${sse.connections} connections)`);
    assert.equal(sse.lastEventIdSent[0], "", "the first connection sends no Last-Event-ID");
    assert.ok(sse.lastEventIdSent[1] && sse.received.includes(sse.lastEventIdSent[1]),
      `the reconnection resumes after an event received (Last-Event-ID ${sse.lastEventIdSent[1]})`);
    assert.ok(sse.listed.length >= 7, `replayed and live events (${sse.listed.length})`);
    assert.deepEqual(sse.received, sse.listed, "every event exactly once, in cursor order, across the reconnect");
    assert.deepEqual(sse.refused, {
      code: "UNAUTHENTICATED", httpStatus: 401, reason: "UNAUTHENTICATED", willRetry: false,
    });
    await page.close();
  });
});
