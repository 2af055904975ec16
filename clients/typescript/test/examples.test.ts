// Runs the README's copy-paste example (examples/quickstart.ts, compiled) against a live gateway,
// so the documentation cannot drift from what works.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startGateway, type Gateway } from "./gateway.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("against a live gateway", () => {
  let gw: Gateway;

  before(async () => {
    gw = await startGateway();
  });

  after(async () => {
    await gw?.stop();
  });

  it("the README quickstart runs end to end", async () => {
    const script = join(here, "..", "examples", "quickstart.js");
    const { stdout } = await promisify(execFile)(process.execPath, [script], {
      env: {
        ...process.env,
        COVERGATE_URL: gw.httpBaseUrl,
        COVERGATE_GRPC_URL: gw.grpcAddress,
        COVERGATE_TOKEN: gw.token,
      },
    });
    assert.match(stdout, /^quote [0-9a-f-]{36}: premium [0-9.]+ ETH$/m);
    assert.match(stdout, /^policy [0-9a-f-]{36}: POLICY_STATUS_[A-Z]+$/m);
    assert.match(stdout, /^VALIDATION_FAILED: policy_id STRING_UUID \(.+\)$/m);
    assert.match(stdout, /^[1-9][0-9]* event\(s\) listed$/m);
    assert.match(stdout, /^watched event [0-9]+: [a-z_.]+$/m);
  });
});

it("the README shows the quickstart verbatim", () => {
  // here is clients/typescript/dist/test; the sources and the repository README are above it.
  const example = readFileSync(resolve(here, "../../examples/quickstart.ts"), "utf8");
  const readme = readFileSync(resolve(here, "../../../../README.md"), "utf8");
  assert.ok(
    readme.includes("```ts\n" + example + "```"),
    "README.md must contain clients/typescript/examples/quickstart.ts verbatim in a ```ts block",
  );
});
