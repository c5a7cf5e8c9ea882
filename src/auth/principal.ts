/** Who is on the other end of a connection, as its verified token says. */
export interface Principal {
  /** The token's `sub`. */
  readonly userId: string
  /** `role: "admin"` in the token. */
  readonly admin: boolean
  /** The token's other `role` and `roles` claims, for catalogs' role rules (absent when none). */
  readonly roles?: readonly string[]
  /** The token's `exp`, in seconds since the epoch. */
  readonly exp: number
}
