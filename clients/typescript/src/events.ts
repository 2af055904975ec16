// Following the event log from a browser: Server-Sent Events from GET /v1/events:watch.
//
// A native EventSource cannot send an Authorization header, so this uses the `eventsource`
// package's EventSource (the WHATWG algorithm, including automatic reconnection with
// Last-Event-ID) over fetch, which can. The API key therefore never goes into a URL (where
// access logs, browser history and Referer headers would keep it) nor into a cookie (an ambient
// credential that any page could make the browser send). Resuming is exact: every event's SSE
// id is its cursor, and the gateway continues strictly after the Last-Event-ID it is sent.
import { fromJson } from "@bufbuild/protobuf";
import { EventSource, type FetchLike } from "eventsource";
import { EventSchema, type Event } from "./gen/proto/covergate/insurance/v1/event_pb.js";
import { CovergateError } from "./errors.js";
import { requireToken, requireUrl } from "./rest.js";

/** Options of followEvents. */
export interface FollowEventsOptions {
  /** Gateway HTTP origin (the REST base URL). */
  baseUrl: string;
  /** API key with scope `events.read`. */
  token: string;
  /** Start after this cursor (0 or absent: from the beginning of the log). */
  afterCursor?: bigint | number | string;
  /** Only these event types. */
  types?: string[];
  /** Only events of this subject, for example `policies/<id>`. */
  subject?: string;
  /** Only events of this partner, for example `PARTNER_ETVAS`. */
  partner?: string;
  /** Called for every event, in cursor order, each once (also across reconnects). */
  onEvent: (event: Event) => void;
  /**
   * Called when the connection drops (it is retried: `willRetry` true) or fails for good (an
   * HTTP error such as 401, or a refused request: `willRetry` false, the stream is closed).
   */
  onError?: (err: CovergateError, willRetry: boolean) => void;
  /** A fetch to use instead of globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
}

/** A running follow; close() ends it. */
export interface EventFollower {
  /** The cursor of the last event delivered, "" before the first. */
  readonly lastCursor: string;
  close(): void;
}

/** Follows the event log with Server-Sent Events; see FollowEventsOptions. */
export function followEvents(options: FollowEventsOptions): EventFollower {
  const base = requireUrl(options.baseUrl, "baseUrl").replace(/\/+$/, "");
  requireToken(options.token);
  const url = new URL(`${base}/v1/events:watch`);
  if (options.afterCursor !== undefined) url.searchParams.set("after_cursor", String(options.afterCursor));
  for (const t of options.types ?? []) url.searchParams.append("types", t);
  if (options.subject) url.searchParams.set("subject", options.subject);
  if (options.partner) url.searchParams.set("partner", options.partner);

  const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  // The refusal of a connection (401, 403, 400...) is a google.rpc.Status: keep it for onError,
  // since an EventSource only reports the HTTP status.
  let refusal: CovergateError | undefined;
  const authorizedFetch: FetchLike = async (input, init) => {
    const res = await baseFetch(input, {
      ...init,
      headers: { ...init.headers, Authorization: `Bearer ${options.token}` },
    });
    refusal = undefined;
    if (res.status !== 200) {
      const body: unknown = await res.clone().json().catch(() => undefined);
      refusal = CovergateError.fromRest(body, res.status);
    }
    return res;
  };
  const source = new EventSource(url, { fetch: authorizedFetch });
  let lastCursor = "";
  source.onmessage = (msg) => {
    const event = fromJson(EventSchema, JSON.parse(msg.data as string), { ignoreUnknownFields: true });
    lastCursor = msg.lastEventId;
    options.onEvent(event);
  };
  // The gateway ends a stream it cannot continue (for example UNAVAILABLE while it shuts down)
  // with this event; the EventSource then reconnects and resumes after the last cursor.
  source.addEventListener("stream-error", (msg) => {
    const body: unknown = JSON.parse((msg as MessageEvent<string>).data);
    options.onError?.(CovergateError.fromRest(body, 200), true);
  });
  source.onerror = (err) => {
    const willRetry = source.readyState !== source.CLOSED;
    const failure =
      refusal ??
      new CovergateError({ code: "UNAVAILABLE", message: err.message ?? "event stream connection failed" });
    options.onError?.(failure, willRetry);
  };
  return {
    get lastCursor() {
      return lastCursor;
    },
    close: () => source.close(),
  };
}
