// Starts Swagger UI on the gateway's OpenAPI document. It lives in its own file, not inline in
// index.html, so that the page's Content-Security-Policy can forbid inline scripts.
"use strict";

SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  // Links such as /docs/#/PolicyService/PolicyService_GetPolicy open that operation.
  deepLinking: true,
  // Keeps the key entered in "Authorize" across reloads (browser localStorage of this origin).
  persistAuthorization: true,
  // Every operation opens ready to call: the page exists for frontend teams to try the API.
  tryItOutEnabled: true,
  // The default validator badge calls an external service; nothing outside may be contacted.
  validatorUrl: null,
  displayRequestDuration: true,
  filter: true,
  presets: [SwaggerUIBundle.presets.apis],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "BaseLayout",
});
