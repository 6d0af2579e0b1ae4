// Package browser is the browser tier: headless Chromium (Debian's
// chromium) driven by chromedp logs in to the web admin page of a real
// phoned (sim board, loopback, registered with tools/pbx), changes an
// account's password from wrong to right, sees the line register after
// phoned restarts, calls the PBX's echo extension from the calls page,
// and takes a screenshot of every page. It runs only under
// `make test-browser` (DESKPHONE_TIER=browser); parameters are
// DESKPHONE_BROWSER_BIN (where phoned and pbx are; empty builds them),
// DESKPHONE_BROWSER_SHOTS (where the screenshots go; `make
// test-browser BROWSER_SHOTS=docs/web` refreshes the docs' own) and
// DESKPHONE_BROWSER_CHROMIUM (the browser; default chromium on PATH).
package browser
