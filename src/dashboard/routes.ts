import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { HttpResponse, HttpRoute } from '../http/route.ts'
import { httpError } from '../http/route.ts'
import { browserSdk } from './sdk-bundle.ts'

const STATIC_DIR = fileURLToPath(new URL('../../web/dashboard/', import.meta.url))

/** Only these files are served: no path from the request ever reaches the file system. */
const FILES: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
}

function file(name: string, type: string): Promise<HttpResponse> {
  return readFile(`${STATIC_DIR}${name}`).then((body) => ({ status: 200, headers: { 'content-type': type, 'cache-control': 'no-cache' }, body }))
}

/** The dashboard at `/`: static files plus the SDK bundled for the browser. */
export function dashboardRoutes(): HttpRoute[] {
  return [
    { method: 'get', path: '/', handle: () => file('index.html', 'text/html; charset=utf-8') },
    // Where browsers look when a page names no icon; the page names this one (an SVG).
    { method: 'get', path: '/favicon.ico', handle: () => file('favicon.svg', 'image/svg+xml') },
    {
      method: 'get',
      path: '/dashboard/:file',
      handle: (req) => {
        const name = req.path.slice('/dashboard/'.length)
        if (name === 'walcast-client.js') {
          return browserSdk().then((text) => ({ status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }, body: text }))
        }
        const type = FILES[name]
        return type === undefined ? httpError(404, 'not_found', 'no such file') : file(name, type)
      },
    },
  ]
}
