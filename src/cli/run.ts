// Entry point for `node <loader> src/cli/run.ts …` (tests spawn walcast this way).
import { main } from './main.ts'

process.exit(await main(process.argv.slice(2)))
