export interface SseMessage {
  readonly event: string
  readonly data: string
  readonly id: string | undefined
}

/**
 * Incremental text/event-stream parser (the WHATWG rules that matter here): fields
 * `event`, `data`, `id`; comment lines (`: heartbeat`) ignored; a blank line dispatches.
 */
export function createSseParser(onMessage: (message: SseMessage) => void): (chunk: string) => void {
  let buffer = ''
  let event = ''
  let data: string[] = []
  let id: string | undefined
  return (chunk) => {
    buffer += chunk
    let newline: number
    while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
      // A CR at the end of a chunk may be the first half of a CRLF: wait for more.
      if (newline === buffer.length - 1 && buffer.endsWith('\r')) break
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1))
      if (line === '') {
        if (data.length > 0) onMessage({ event: event || 'message', data: data.join('\n'), id })
        event = ''
        data = []
        id = undefined
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') event = value
      else if (field === 'data') data.push(value)
      else if (field === 'id') id = value
    }
  }
}
