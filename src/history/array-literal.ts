/**
 * Postgres array literals (`{a,"b c"}`) built from strings, for the history append's
 * column arrays. pg would escape every element through a regular expression; the append's
 * elements are nearly always plain (`escrow:12`, an event type, an ISO commit time), so
 * only an element that needs quotes pays for them.
 */

// Unquoted, an element may hold none of `{ } , " \`, no white space, and must not be
// empty or spell NULL (case-insensitively: array_in reads that as a null).
const PLAIN = /^[A-Za-z0-9_.:/+-]+$/

/** One element as array_in reads it back exactly. */
export function arrayElement(text: string): string {
  // The append asks for every event's type and commit time: a few types, and one time per
  // transaction (the same string), so each is tested once, not per event.
  let element = elements.get(text)
  if (element === undefined) {
    if (elements.size >= ELEMENTS_MAX) elements.clear()
    element = PLAIN.test(text) && !(text.length === 4 && text.toLowerCase() === 'null') ? text : quoted(text)
    elements.set(text, element)
  }
  return element
}

// Bounded: commit times are as many as transactions; the current ones come back at once after a clear.
const ELEMENTS_MAX = 4096
const elements = new Map<string, string>()

/** `texts` as the literal of a text[] (array_in gives back exactly these strings). */
export function textArrayLiteral(texts: readonly string[]): string {
  let literal = '{'
  for (let i = 0; i < texts.length; i++) literal += `${i === 0 ? '' : ','}${arrayElement(texts[i]!)}`
  return `${literal}}`
}

/** Always in double quotes; inside them a backslash takes the next character as it is. */
function quoted(text: string): string {
  return `"${text.includes('"') || text.includes('\\') ? text.replace(/["\\]/g, '\\$&') : text}"`
}

/**
 * An element holding a whole text[] literal (an event's topics in the append's array of
 * them, cast back per row): braces need quotes, so it is always quoted.
 */
export function nestedArrayElement(texts: readonly string[]): string {
  // Events of one topic share one frozen topics array (makeEvent): consecutive ones reuse
  // its element. Only a frozen array can be remembered by identity.
  if (texts === lastNested) return lastNestedElement
  const element = quoted(textArrayLiteral(texts))
  if (Object.isFrozen(texts)) {
    lastNested = texts
    lastNestedElement = element
  }
  return element
}

let lastNested: readonly string[] | undefined
let lastNestedElement = ''
