#!/usr/bin/env node
// Tiny shim: everything lives in dist/ (built by `npm run build`, run on `npm install`).
import("../dist/cli/main.js").then((m) => m.main(process.argv));
