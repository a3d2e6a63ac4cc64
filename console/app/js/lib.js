// The one front-end dependency: Preact with hooks and htm, as one ES module (htm/preact/standalone),
// vendored into ../vendor by `make install` from npm (console/package.json); never a CDN.
export { html, render, useState, useEffect, useMemo, useCallback, useRef } from "../vendor/preact-htm.js";
