import t from 'tap'
import { loadConfig } from '../../src/config.ts'
import { createTokenVerifier, TokenError } from '../../src/auth/token-verifier.ts'
import { createVerifiedTokens } from '../../src/auth/verified-tokens.ts'
import { signToken, tamperSignature, TEST_JWT_SECRET } from '../helpers/tokens.ts'
import { sleep } from '../helpers/wait.ts'

const principal = (exp: number) => ({ userId: '1', admin: false, exp })

t.test('a verified token answers until its exp (with the tolerance) or its age limit, whichever is first', async (t) => {
  const tokens = createVerifiedTokens({ max: 10, maxAgeMs: 60_000, clockToleranceSec: 5 })
  const now = 1_000_000_000_000
  tokens.add('a', principal(now / 1000 + 10), now)
  t.same(tokens.get('a', now + 14_999), principal(now / 1000 + 10), 'until exp + tolerance')
  t.equal(tokens.get('a', now + 15_000), undefined, 'not once exp + tolerance has passed')
  t.equal(tokens.get('a', now), undefined, 'and the expired entry is gone')
  tokens.add('b', principal(now / 1000 + 3600), now)
  t.ok(tokens.get('b', now + 59_999))
  t.equal(tokens.get('b', now + 60_000), undefined, 'never longer than the age limit (the JWKS cache age)')
  tokens.add('c', principal(now / 1000 - 10), now)
  t.equal(tokens.get('c', now), undefined, 'an already expired token is not kept')
  t.equal(tokens.get('never', now), undefined)
})

t.test('bounded by count: the oldest goes first', async (t) => {
  const tokens = createVerifiedTokens({ max: 3, maxAgeMs: 60_000, clockToleranceSec: 0 })
  const now = Date.now()
  for (const token of ['a', 'b', 'c', 'd']) tokens.add(token, principal(now / 1000 + 100), now)
  t.equal(tokens.get('a', now), undefined, 'the oldest was dropped')
  t.same(['b', 'c', 'd'].map((token) => tokens.get(token, now)?.userId), ['1', '1', '1'])
})

t.test('the verifier: a token seen before is answered the same, still refused once expired; a tampered one is never taken for it', async (t) => {
  const verifier = createTokenVerifier(loadConfig({ DATABASE_URL: 'postgres://u@127.0.0.1/db', WALCAST_JWT_SECRET: TEST_JWT_SECRET, WALCAST_JWT_CLOCK_TOLERANCE: '0' }).auth)
  const token = await signToken('7', { expiresIn: 2, role: 'admin' })
  const first = await verifier.verify(token)
  t.same(await verifier.verify(token), first, 'the same principal again')
  const tampered = await verifier.verify(tamperSignature(token)).then(() => undefined, (err: unknown) => err)
  t.ok(tampered instanceof TokenError && tampered.reason === 'bad_signature', 'a tampered copy of a known token is checked, and refused')
  await sleep(Math.max(0, first.exp * 1000 - Date.now()) + 50)
  const late = await verifier.verify(token).then(() => undefined, (err: unknown) => err)
  t.ok(late instanceof TokenError && late.reason === 'expired', 'refused as expired once exp passed, known or not')
})
