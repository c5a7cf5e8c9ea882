/** Parameters of every script, from `k6 run -e NAME=value` or the environment. */
export interface LoadEnv {
  /** ws://host:port/v1/ws */
  readonly url: string
  readonly secret: string
  readonly vus: number
  /** k6 duration string (30s, 2m, …). */
  readonly duration: string
  /** Escrows the spread clients subscribe to: user u watches escrow 2 + ((u - 1) % escrows). */
  readonly escrows: number
  readonly hotEscrow: number
  /** Added to __VU to make the user id (sub), so two runs can use different users. */
  readonly userOffset: number
}

function text(name: string, fallback: string): string {
  const value = __ENV[name]
  return value === undefined || value === '' ? fallback : value
}

function whole(name: string, fallback: number): number {
  const value = text(name, String(fallback))
  if (!/^\d+$/.test(value)) throw new Error(`${name} must be a whole number, got ${JSON.stringify(value)}`)
  return Number(value)
}

export function loadEnv(): LoadEnv {
  return {
    url: text('WALCAST_URL', 'ws://127.0.0.1:8080/v1/ws'),
    secret: text('WALCAST_JWT_SECRET', ''),
    vus: whole('VUS', 50),
    duration: text('DURATION', '30s'),
    escrows: Math.max(1, whole('ESCROWS', 50)),
    hotEscrow: whole('HOT_ESCROW', 1),
    userOffset: whole('USER_OFFSET', 0),
  }
}

/** k6 duration text to milliseconds (1h2m3s, 500ms, 90s). */
export function durationMs(value: string): number {
  let total = 0
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g
  let match: RegExpExecArray | null
  let consumed = 0
  while ((match = re.exec(value)) !== null) {
    const n = Number(match[1])
    total += match[2] === 'ms' ? n : match[2] === 's' ? n * 1000 : match[2] === 'm' ? n * 60_000 : n * 3_600_000
    consumed += match[0].length
  }
  if (consumed !== value.length || consumed === 0) throw new Error(`not a duration: ${JSON.stringify(value)}`)
  return total
}

export function userOf(vu: number, env: LoadEnv): number {
  return vu + env.userOffset
}

export function spreadTopic(user: number, env: LoadEnv): string {
  return `escrow:${2 + ((user - 1) % env.escrows)}`
}
