import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { readFigures } from '../../load/node/soak/prometheus-text.ts'

t.test('/metrics carries the process\'s own figures: resident memory, V8 heap, open file descriptors', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb)
  const text = await (await fetch(`http://127.0.0.1:${service.http.port}/metrics`)).text()
  const figures = readFigures(text)
  t.ok(figures.rssBytes! > 10 * 2 ** 20, `process_resident_memory_bytes (${figures.rssBytes})`)
  t.ok(figures.heapUsedBytes! > 0 && figures.heapUsedBytes! <= figures.heapTotalBytes!, 'nodejs_heap_size_used_bytes within nodejs_heap_size_total_bytes')
  t.ok(figures.openFds! > 0, `process_open_fds (${figures.openFds})`)
  t.notOk(/^# HELP (walcast_\w+) .*\n[\s\S]*^# HELP \1 /m.test(text), 'each series once')
})
