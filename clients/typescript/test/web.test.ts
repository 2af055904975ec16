// The browser entry point must not drag Node-only modules into a frontend bundle: walk the
// compiled import graph from dist/src/web.js and inspect every package it reaches.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const srcDir = join(dirname(fileURLToPath(import.meta.url)), "..", "src");

function bareImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(file, "utf8");
    for (const m of code.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else bare.add(spec);
    }
  };
  visit(entry);
  return bare;
}

it("the web entry imports no Node built-in and no Node transport", () => {
  const web = bareImports(join(srcDir, "web.js"));
  assert.ok(web.has("openapi-fetch"), `walker found the REST dependency: ${[...web].join(", ")}`);
  const nodeOnly = [...web].filter((s) => s.startsWith("node:") || s.includes("connect-node"));
  assert.deepEqual(nodeOnly, []);
  // The walker does see Node-only imports where they exist.
  const all = bareImports(join(srcDir, "index.js"));
  assert.ok(all.has("@connectrpc/connect-node"), `walker sees the gRPC transport: ${[...all].join(", ")}`);
});
