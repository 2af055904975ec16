// Test harness: starts a real `covergate serve` (embedded partner sandboxes, a fresh SQLite file,
// random ports), waits until it is ready, and stops it again. The binary is bin/covergate at the
// repository root (`make build`), or $COVERGATE_BIN.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface Gateway {
  /** REST origin, for example http://127.0.0.1:40123. */
  httpBaseUrl: string;
  /** gRPC address as a URL, for example http://127.0.0.1:40124. */
  grpcAddress: string;
  /** An API key with every scope. */
  token: string;
  /** Everything the gateway logged so far, for failure messages. */
  logs(): string;
  /** SIGTERM, wait for exit, remove the database. */
  stop(): Promise<void>;
}

// Upper bound for start-up, only so that a broken binary fails the run instead of hanging it.
const startLimitMs = 60_000;

function repoRoot(): string {
  // This file runs as clients/typescript/dist/test/gateway.js.
  return resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
}

/** Starts a gateway; extraArgs are added to `covergate serve` (for example `--cors-origins`). */
export async function startGateway(extraArgs: string[] = []): Promise<Gateway> {
  const bin = process.env.COVERGATE_BIN ?? join(repoRoot(), "bin", "covergate");
  if (!existsSync(bin)) {
    throw new Error(`gateway binary ${bin} not found: run 'make build' (or set COVERGATE_BIN)`);
  }
  const dir = await mkdtemp(join(tmpdir(), "covergate-ts-client-"));
  const token = `ts-client-${randomUUID()}`;
  // Drop the caller's COVERGATE_* settings so a developer's environment cannot change the test.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("COVERGATE_")));
  const child = spawn(
    bin,
    [
      "serve",
      "--grpc-addr", "127.0.0.1:0",
      "--http-addr", "127.0.0.1:0",
      "--database", `sqlite:${join(dir, "covergate.db")}`,
      "--partners", "sandbox",
      "--api-keys", `${token}:*`,
      ...extraArgs,
    ],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  child.stdout.on("data", (b: Buffer) => lines.push(b.toString()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const hardKill = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(hardKill);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const { http, grpc } = await waitForServing(child, lines, exited);
    const httpBaseUrl = `http://${http}`;
    await waitForReady(httpBaseUrl, exited, lines);
    return { httpBaseUrl, grpcAddress: `http://${grpc}`, token, logs: () => lines.join("\n"), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// Reads the JSON log lines until the one announcing the listeners' real (random) ports.
function waitForServing(
  child: ChildProcess,
  lines: string[],
  exited: Promise<number | null>,
): Promise<{ http: string; grpc: string }> {
  return new Promise((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`gateway did not report its ports in ${startLimitMs} ms:\n${lines.join("\n")}`)),
      startLimitMs,
    );
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`gateway exited with ${code} before serving:\n${lines.join("\n")}`));
    });
    const rl = createInterface({ input: child.stderr! });
    rl.on("line", (line) => {
      lines.push(line);
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (rec.msg === "covergate serving" && typeof rec.http === "string" && typeof rec.grpc === "string") {
        clearTimeout(timer);
        res({ http: rec.http, grpc: rec.grpc });
      }
    });
  });
}

async function waitForReady(baseUrl: string, exited: Promise<number | null>, lines: string[]): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + startLimitMs;
  while (Date.now() < deadline && !dead) {
    try {
      const res = await fetch(`${baseUrl}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gateway at ${baseUrl} never became ready:\n${lines.join("\n")}`);
}

/** A CreateQuote body for NFT cover the sandbox prices (Ethereum, 1.5 ETH). */
export const nftQuote = {
  chain: "CHAIN_ETHEREUM",
  nftContractAddress: "0x8a90cab2b38dba80c64b7734e58ee1db38b8992e",
  token: "TOKEN_ETH",
} as const;

/** 0x followed by n random hex digits. */
export function hex(n: number): string {
  let s = "0x";
  while (s.length < n + 2) s += randomUUID().replaceAll("-", "");
  return s.slice(0, n + 2);
}
