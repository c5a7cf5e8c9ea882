// Preloaded by test/http/uws-selection.test.ts: makes this process look like a Node.js
// whose module ABI no installed uWebSockets.js build has a binary for.
Object.defineProperty(process.versions, 'modules', { value: '999' })
