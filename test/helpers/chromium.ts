import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Page } from 'playwright-core'
import type { Test } from 'tap'

/** Debian's chromium (.ci/run installs it): the browser every browser test drives. */
export const CHROMIUM = '/usr/bin/chromium'

/**
 * A page in a headless Chromium with a throwaway profile, closed (and the profile removed)
 * when `t` ends. No QUIC, no background traffic: the tests talk to loopback only.
 */
export async function browserPage(t: Test): Promise<Page> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(async () => {
    await context.close().catch(() => {})
    await fs.rm(profile, { recursive: true, force: true })
  })
  return context.pages()[0] ?? await context.newPage()
}
