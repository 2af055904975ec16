#!/usr/bin/env bash
# Prints the README's "Use it from TypeScript / Python" section. Its two programs are the example
# files themselves, which the client tests run and require to appear verbatim in README.md, so
# paste this output (or replace the old section with it) whenever an example changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
fence='```'

cat <<'EOF'
## Use it from TypeScript / Python

Generated clients live in `clients/` and are regenerated with the rest of the contract:
`make clients` (CI fails on drift, like `gen/`). Both are tested against a live `covergate serve`
(`make test-clients`); the two programs below are exactly `clients/typescript/examples/quickstart.ts`
and `clients/python/examples/quickstart.py`, which those tests run. Against `make run` they work
as they are (dev key `covergate-dev-key`, gRPC on 9090, HTTP on 8080).

### TypeScript (`clients/typescript`, package `@covergate/client`)

- `createCovergateClient({ baseUrl, token })`: REST, typed from the OpenAPI 3.1 document
  (openapi-fetch); `unwrap(call)` returns the data or throws a `CovergateError`. Browsers and
  bundlers import `@covergate/client/web`, which pulls in nothing Node-only.
- `createCovergateGrpcClient({ address, token })`: gRPC for Node (Connect, gRPC over HTTP/2) with
  `quotes`, `policies`, `events`, `claims`, `customers`; `close()` when done. `address` is a URL:
  `https://…` for TLS, `http://…` for a local plaintext gateway.
- Writes take `withIdempotencyKey(key)` (REST: spread into the options; gRPC: the call options);
  `newIdempotencyKey()` makes one. Keep one key per logical write and resend it on retries.
- `CovergateError` (`toCovergateError(err)` for gRPC): `code` (`INVALID_ARGUMENT`, …), `httpStatus`
  (REST), `reason` (the ErrorReason value without `ERROR_REASON_`, e.g. `VALIDATION_FAILED`), `metadata`,
  `violations` (`field`, `description`, `reason` such as `STRING_UUID`).
- Messages and enums (`Chain`, `Token`, `PolicyStatus`, …) are exported from the package root.
- In browsers (`@covergate/client/web`): `createCovergateWebClient({ baseUrl, token, protocol?,
  useBinaryFormat? })` is the same five service clients over `@connectrpc/connect-web` — Connect
  (JSON by default, binary with `useBinaryFormat: true`) or `protocol: "grpc-web"` — against the
  HTTP port (the page's origin must be in `--cors-origins`); errors are `ConnectError`s, so
  `toCovergateError(err)` gives the reason and violations. `followEvents({ baseUrl, token,
  afterCursor?, types?, subject?, partner?, onEvent, onError? })` follows `/v1/events:watch` as
  Server-Sent Events with an EventSource over fetch (it sends the `Authorization` header, which a
  native EventSource cannot) and resumes after a dropped connection with `Last-Event-ID`; a refused
  follow (401/403/400) calls `onError(err, false)` with the gateway's reason. Both are tested in
  headless Chromium from another origin (`test/browser.test.ts`).

  ```ts
  import { Chain, Token, createCovergateWebClient, followEvents } from "@covergate/client/web";
  const api = createCovergateWebClient({ baseUrl: "https://api.example.com", token });
  const { quote } = await api.quotes.createQuote({
    cover: { case: "nft", value: { chain: Chain.ETHEREUM, nftContractAddress, token: Token.ETH } },
    totalValue: { currencyCode: "ETH", amount: "1.5" },
  });
  const follower = followEvents({ baseUrl: "https://api.example.com", token, types: ["policy.activated"],
    onEvent: (e) => console.log(e.cursor, e.type, e.subject) });
  // … follower.close() when done
  ```

Build and use from another Node project (Node 20+):

```sh
cd clients/typescript && npm ci && npm run build
cd ~/my-service && npm install /path/to/covergate/clients/typescript
```

EOF
echo "${fence}ts"
cat clients/typescript/examples/quickstart.ts
echo "${fence}"
cat <<'EOF'

### Python (`clients/python`, distribution `covergate-client`)

Generated with Debian's protoc 3.21.12 and grpc 1.51.1, so it runs on bookworm's
`python3-grpcio` / `python3-protobuf` (`apt-get install python3-grpcio python3-protobuf`):

```sh
python3 -m venv --system-site-packages .venv
.venv/bin/pip install --no-build-isolation ./clients/python
# or, without installing: PYTHONPATH=clients/python:clients/python/gen python3 …
```

`CovergateClient(target, token, *, insecure=False)` opens one channel (TLS unless `insecure=True`)
and sends `authorization: Bearer <token>` on every call. Typed methods (`create_quote`,
`create_policy`, `get_policy`, `list_policies`, `cancel_policy`, `refresh_policy`, `list_events`,
`watch_events`, `publish_event`, …) raise `CovergateError` (`code`, `reason`, `metadata`,
`violations`) and take `idempotency_key=` on writes. Every other RPC is on the authenticated raw
stubs `client.quotes`, `.policies`, `.events`, `.claims`, `.customers`.
Messages are in `covergate.insurance.v1.*_pb2`.

EOF
echo "${fence}python"
cat clients/python/examples/quickstart.py
echo "${fence}"
