// Runs inside headless Chromium (bundled by esbuild in test/browser.test.ts) on an origin other
// than the gateway's: connect-web calls over Connect (JSON and binary) and gRPC-Web, and the
// event log followed with Server-Sent Events across a dropped connection. It reports a summary
// on window.covergateResult; the Node side asserts on it.
import {
  Chain,
  createCovergateWebClient,
  followEvents,
  newIdempotencyKey,
  toCovergateError,
  Token,
  withIdempotencyKey,
  type CovergateWebClient,
  type CovergateWebClientOptions,
} from "../../src/web.js";

export interface ProtocolSummary {
  protocol: string;
  quoteId: string;
  policyId: string;
  gotPolicyId: string;
  gotQuoteId: string;
  retryPolicyId: string;
  invalid: { code: string; reason: string; field: string };
  unauthenticated: { code: string; reason: string };
}

export interface SseSummary {
  received: string[];
  listed: string[];
  connections: number;
  lastEventIdSent: string[];
  refused: { code: string; httpStatus: number | undefined; reason: string; willRetry: boolean };
}

export interface PageResult {
  pageOrigin: string;
  gatewayOrigin: string;
  protocols: ProtocolSummary[];
  sse: SseSummary;
  error?: string;
}

declare global {
  interface Window {
    covergateResult?: PageResult | { error: string };
  }
}

const params = new URLSearchParams(location.search);
const baseUrl = params.get("gateway") ?? "";
const token = params.get("token") ?? "";

const nft = {
  chain: Chain.ETHEREUM,
  nftContractAddress: "0x8a90cab2b38dba80c64b7734e58ee1db38b8992e",
  token: Token.ETH,
};
const totalValue = { currencyCode: "ETH", amount: "1.5" };

function hex(digits: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(digits / 2));
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    return toCovergateError(err);
  }
  throw new Error("expected the call to fail");
}

async function createQuote(client: CovergateWebClient): Promise<string> {
  const { quote } = await client.quotes.createQuote({ cover: { case: "nft", value: nft }, totalValue });
  return quote?.quoteId ?? "";
}

async function rpcFlow(protocol: string, opts: Partial<CovergateWebClientOptions>): Promise<ProtocolSummary> {
  const client = createCovergateWebClient({ baseUrl, token, ...opts });
  const quoteId = await createQuote(client);
  const purchase = {
    quoteId,
    purchase: {
      case: "nft" as const,
      value: { txId: hex(64), currentBlock: "123", sourceAddress: hex(40), targetAddress: hex(40), nftTokenId: "42" },
    },
    totalValue,
    holder: { firstName: "Ada", lastName: "Lovelace", email: "ada@example.com" },
  };
  const key = newIdempotencyKey();
  const created = await client.policies.createPolicy(purchase, withIdempotencyKey(key));
  const policyId = created.policy?.policyId ?? "";
  const retry = await client.policies.createPolicy(purchase, withIdempotencyKey(key));
  const got = await client.policies.getPolicy({ policyId });
  const invalid = await failure(client.policies.getPolicy({ policyId: "not-a-uuid" }));
  const stranger = createCovergateWebClient({ baseUrl, token: "not-a-valid-key", ...opts });
  const unauth = await failure(stranger.policies.getPolicy({ policyId }));
  return {
    protocol,
    quoteId,
    policyId,
    gotPolicyId: got.policy?.policyId ?? "",
    gotQuoteId: got.policy?.quoteId ?? "",
    retryPolicyId: retry.policy?.policyId ?? "",
    invalid: { code: invalid.code, reason: invalid.reason, field: invalid.violations[0]?.field ?? "" },
    unauthenticated: { code: unauth.code, reason: unauth.reason },
  };
}

function until(cond: () => boolean, what: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs; // bounds a hang; not a timing assertion
  return new Promise((res, rej) => {
    const poll = () => {
      if (cond()) return res();
      if (Date.now() > deadline) return rej(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

async function sseFlow(): Promise<SseSummary> {
  const client = createCovergateWebClient({ baseUrl, token });
  const types = ["quote.created"];
  const received: string[] = [];
  const lastEventIdSent: string[] = [];
  let connections = 0;
  let dropFirst: AbortController | undefined;
  // Counts connections, records the Last-Event-ID each one sends, and drops the first connection
  // after two events, the way a network failure would (an abort reason that is not an AbortError,
  // so the EventSource reconnects).
  const recordingFetch: typeof fetch = (input, init) => {
    connections++;
    const headers = new Headers(init?.headers);
    lastEventIdSent.push(headers.get("Last-Event-ID") ?? "");
    if (connections > 1) return fetch(input, init);
    dropFirst = new AbortController();
    init?.signal?.addEventListener("abort", () => dropFirst?.abort());
    return fetch(input, { ...init, signal: dropFirst.signal });
  };
  const follower = followEvents({
    baseUrl,
    token,
    types,
    fetch: recordingFetch,
    onEvent: (event) => {
      received.push(String(event.cursor));
      if (received.length === 2) dropFirst?.abort(new Error("simulated network failure"));
    },
  });
  try {
    // The three quotes of the RPC flows are in the log; add more while the stream is live.
    await until(() => received.length >= 2, "the first two events");
    await until(() => connections >= 2, "the reconnection");
    for (let i = 0; i < 3; i++) await createQuote(client);
    const { events } = await client.events.listEvents({ types, pageSize: 1000 });
    const listed = events.map((e) => String(e.cursor));
    await until(() => received.length >= listed.length, `${listed.length} events (have ${received.length})`);
    // Give a duplicate no chance to hide: one more live event must come next, and only it.
    await createQuote(client);
    const after = await client.events.listEvents({ types, pageSize: 1000 });
    const all = after.events.map((e) => String(e.cursor));
    await until(() => received.length >= all.length, `${all.length} events (have ${received.length})`);
    const refused = await refusedFollow();
    return { received, listed: all, connections, lastEventIdSent, refused };
  } finally {
    follower.close();
  }
}

// A follow with a key that is not valid is refused for good, with the gateway's reason.
function refusedFollow(): Promise<SseSummary["refused"]> {
  return new Promise((res) => {
    const f = followEvents({
      baseUrl,
      token: "not-a-valid-key",
      onEvent: () => undefined,
      onError: (err, willRetry) => {
        f.close();
        res({ code: err.code, httpStatus: err.httpStatus, reason: err.reason, willRetry });
      },
    });
  });
}

async function main(): Promise<PageResult> {
  const protocols = [
    await rpcFlow("connect+json", {}),
    await rpcFlow("connect+proto", { useBinaryFormat: true }),
    await rpcFlow("grpc-web", { protocol: "grpc-web" }),
  ];
  const sse = await sseFlow();
  return { pageOrigin: location.origin, gatewayOrigin: new URL(baseUrl).origin, protocols, sse };
}

main().then(
  (r) => (window.covergateResult = r),
  (err: unknown) => (window.covergateResult = { error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err) }),
);
