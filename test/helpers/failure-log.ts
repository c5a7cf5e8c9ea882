/**
 * Keeps each `not ok` line of a TAP stream with the diagnostics block that follows it,
 * and prints them again at the end: CI shows only the tail of a run.
 */
export class FailureLog {
  private rest = ''
  private readonly details: string[] = []
  private readonly titles: string[] = []
  private open = 0

  constructor(private readonly linesPerFailure = 25) {}

  push(text: string): void {
    const lines = (this.rest + text).split('\n')
    this.rest = lines.pop() ?? ''
    for (const line of lines) this.line(line)
  }

  /** Details first, then every failing title last, where a shortened tail still shows them. */
  summary(): string {
    if (this.rest) this.line(this.rest)
    this.rest = ''
    if (this.titles.length === 0) return '\n# failures: none reported in TAP (see the exit code and stderr above)\n'
    return `\n# failures (repeated from above):\n${this.details.join('\n')}\n# failing tests:\n${this.titles.join('\n')}\n`
  }

  private line(line: string): void {
    if (/^\s*not ok /.test(line)) {
      this.titles.push(line)
      this.details.push(line)
      this.open = this.linesPerFailure
    } else if (this.open > 0) {
      this.details.push(line)
      this.open--
      if (/^\s*\.\.\.\s*$/.test(line)) this.open = 0
    }
  }
}
