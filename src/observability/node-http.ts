/**
 * node:http and node:https, loaded the CommonJS way (ADR 0027). An ESM `import` of a built-in makes Node build its
 * ESM facade, which reads every export — and node:http's lazy `WebSocket`, `CloseEvent` and `MessageEvent` getters
 * load undici, Node's fetch stack: ≈ 13 MiB resident and ≈ 20 ms of start-up that nothing here uses. The
 * listeners (health, AWS API) import the values from here; `import type` from node:http stays as it is (types are
 * erased). The Kubernetes client's paths load undici anyway.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const http: typeof import('node:http') = require('node:http');
export const https: typeof import('node:https') = require('node:https');
