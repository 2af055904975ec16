// The REST client for frontends: openapi-fetch typed by openapi-typescript from the same merged
// OpenAPI 3.1 document the gateway serves at /openapi.json, so paths, bodies and responses are
// checked by the compiler and cost nothing at run time beyond fetch.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { paths } from "./gen/openapi.js";
import { CovergateError } from "./errors.js";

/** Options of createCovergateClient. */
export interface CovergateClientOptions {
  /** Gateway HTTP origin, for example `https://api.example.com` (no trailing `/v1`). */
  baseUrl: string;
  /** API key, sent as `Authorization: Bearer <token>`. */
  token: string;
  /** fetch to use (defaults to the global fetch); handy for tests and custom agents. */
  fetch?: (input: Request) => Promise<Response>;
}

/** The typed REST client: `GET`, `POST`, ... keyed by the OpenAPI paths. */
export type CovergateClient = Client<paths>;

/**
 * Creates a REST client that authenticates every request. Calls return `{ data, error, response }`
 * as openapi-fetch does; pass the promise to `unwrap` to get the data or a CovergateError.
 */
export function createCovergateClient(options: CovergateClientOptions): CovergateClient {
  const baseUrl = requireUrl(options.baseUrl, "baseUrl");
  requireToken(options.token);
  const client = createClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ""),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${options.token}`);
      return request;
    },
  };
  client.use(auth);
  return client;
}

/**
 * Returns the response data of an openapi-fetch call, or throws a CovergateError built from the
 * google.rpc.Status error body (reason, metadata, field violations).
 */
export async function unwrap<R extends { data?: unknown; error?: unknown; response: Response }>(
  call: Promise<R>,
): Promise<Exclude<R["data"], undefined>> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    throw CovergateError.fromRest(error, response.status);
  }
  return data as Exclude<R["data"], undefined>;
}

export function requireUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (err) {
    throw new TypeError(`covergate: ${name} ${JSON.stringify(value)} is not a URL`, { cause: err });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`covergate: ${name} must start with http:// or https://, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function requireToken(token: string): void {
  if (token.length === 0 || !/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError("covergate: token must be a non-empty API key of printable ASCII");
  }
}
