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
  if (PLAIN.test(text) && !(text.length === 4 && text.toLowerCase() === 'null')) return text
  return quoted(text)
}

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
  return quoted(textArrayLiteral(texts))
}
