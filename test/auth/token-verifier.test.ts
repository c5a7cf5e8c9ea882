import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { CompactSign, SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose'
import { loadConfig, type AuthConfig } from '../../src/config.ts'
import { createTokenVerifier, TokenError } from '../../src/auth/token-verifier.ts'
import { signToken, tamperSignature, TEST_JWT_SECRET, unsignedToken } from '../helpers/tokens.ts'

function authConfig(env: Record<string, string>): AuthConfig {
  return loadConfig({ DATABASE_URL: 'postgres://u@127.0.0.1/db', ...env }).auth
}

async function rejection(promise: Promise<unknown>): Promise<TokenError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof TokenError) return err
    throw err
  }
  throw new Error('the token was accepted')
}

/** A JWKS endpoint on loopback serving the public halves of an RSA and an EC key. */
async function jwksServer(t: Test) {
  const rsa = await generateKeyPair('RS256', { extractable: true })
  const ec = await generateKeyPair('ES256', { extractable: true })
  const keys = [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ]
  let fetches = 0
  const server = http.createServer((_req, res) => {
    fetches++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  return { url, rsa, ec, fetches: () => fetches }
}

const exp = (seconds: number): number => Math.floor(Date.now() / 1000) + seconds

t.test('HS256: accepts a good token and maps the claims to a principal', async (t) => {
  const verifier = createTokenVerifier(authConfig({ WALCAST_JWT_SECRET: TEST_JWT_SECRET }))
  const user = await verifier.verify(await signToken('42'))
  t.equal(user.userId, '42')
  t.equal(user.admin, false)
  t.ok(user.exp > Date.now() / 1000)
  const admin = await verifier.verify(await signToken('7', { role: 'admin' }))
  t.equal(admin.admin, true)
  t.equal((await verifier.verify(await signToken('7', { role: 'administrator' }))).admin, false, 'only the exact role admin')
})

t.test('HS256: every bad token is refused with its reason', async (t) => {
  const verifier = createTokenVerifier(authConfig({ WALCAST_JWT_SECRET: TEST_JWT_SECRET, WALCAST_JWT_CLOCK_TOLERANCE: '5s' }))
  t.equal((await rejection(verifier.verify(undefined))).reason, 'missing')
  t.equal((await rejection(verifier.verify(''))).reason, 'missing')
  t.equal((await rejection(verifier.verify('not-a-jwt'))).reason, 'malformed')
  t.equal((await rejection(verifier.verify('a.b.c'))).reason, 'malformed')
  t.equal((await rejection(verifier.verify('x'.repeat(9000)))).reason, 'malformed', 'oversized token')
  const good = await signToken('1')
  t.equal((await rejection(verifier.verify(tamperSignature(good)))).reason, 'bad_signature', 'tampered signature')
  const [header, , signature] = good.split('.')
  const forgedPayload = Buffer.from(JSON.stringify({ sub: '2', exp: exp(3600) })).toString('base64url')
  t.equal((await rejection(verifier.verify(`${header}.${forgedPayload}.${signature}`))).reason, 'bad_signature', 'payload swapped')
  t.equal((await rejection(verifier.verify(await signToken('1', { secret: 'another-secret-another-secret-0000' })))).reason, 'bad_signature')
  t.equal((await rejection(verifier.verify(await signToken('1', { expiresIn: -60 })))).reason, 'expired')
  t.equal((await rejection(verifier.verify(await signToken('1', { noExp: true })))).reason, 'claim_invalid', 'exp is required')
  t.equal((await rejection(verifier.verify(unsignedToken('1')))).reason, 'alg_not_allowed', 'alg none')
  const hs512 = await new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setSubject('1').setExpirationTime(exp(60)).sign(new TextEncoder().encode(TEST_JWT_SECRET))
  t.equal((await rejection(verifier.verify(hs512))).reason, 'alg_not_allowed', 'only HS256 for the secret')
  const noSub = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp(60)).sign(new TextEncoder().encode(TEST_JWT_SECRET))
  t.equal((await rejection(verifier.verify(noSub))).reason, 'claim_invalid', 'sub is required')
  const emptySub = await new SignJWT({ sub: '' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp(60)).sign(new TextEncoder().encode(TEST_JWT_SECRET))
  t.equal((await rejection(verifier.verify(emptySub))).reason, 'claim_invalid', 'sub must not be empty')
  const notJson = await new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_JWT_SECRET))
  t.equal((await rejection(verifier.verify(notJson))).reason, 'malformed', 'signed, but the payload is not a claims set')
  const err = await rejection(verifier.verify('a.b.c'))
  t.equal(err.code, 'TOKEN_REJECTED')
  t.notOk(err.serverSide)
  // Within the clock tolerance a just-expired token still passes.
  t.equal((await verifier.verify(await signToken('1', { expiresIn: -2 }))).userId, '1')
})

t.test('issuer and audience are checked when configured', async (t) => {
  const verifier = createTokenVerifier(authConfig({ WALCAST_JWT_SECRET: TEST_JWT_SECRET, WALCAST_JWT_ISSUER: 'https://idp.example', WALCAST_JWT_AUDIENCE: 'walcast' }))
  t.equal((await verifier.verify(await signToken('1', { iss: 'https://idp.example', aud: 'walcast' }))).userId, '1')
  t.equal((await rejection(verifier.verify(await signToken('1', { iss: 'https://evil.example', aud: 'walcast' })))).reason, 'claim_invalid')
  t.equal((await rejection(verifier.verify(await signToken('1', { iss: 'https://idp.example', aud: 'other' })))).reason, 'claim_invalid')
  t.equal((await rejection(verifier.verify(await signToken('1')))).reason, 'claim_invalid', 'missing iss/aud')
})

t.test('JWKS: RS256 and ES256 keys; algorithm confusion and alg none refused', async (t) => {
  const jwks = await jwksServer(t)
  const verifier = createTokenVerifier(authConfig({ WALCAST_JWKS_URL: jwks.url }))
  const rs = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setSubject('u-rsa').setExpirationTime(exp(60)).sign(jwks.rsa.privateKey)
  const es = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).setSubject('u-ec').setExpirationTime(exp(60)).sign(jwks.ec.privateKey)
  t.same(await verifier.verify(rs), { userId: 'u-rsa', admin: true, exp: (await verifier.verify(rs)).exp })
  t.equal((await verifier.verify(es)).userId, 'u-ec')

  // The classic confusion: HS256 "signed" with the RSA public key the server trusts.
  const publicPem = await exportSPKI(jwks.rsa.publicKey)
  const confused = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).setSubject('u-rsa').setExpirationTime(exp(60)).sign(new TextEncoder().encode(publicPem))
  t.equal((await rejection(verifier.verify(confused))).reason, 'alg_not_allowed')
  t.equal((await rejection(verifier.verify(unsignedToken('u-rsa')))).reason, 'alg_not_allowed')
  // An RS256 header on an ES256 key id (key type mismatch) does not verify either.
  const wrongKey = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'rsa-1' }).setSubject('x').setExpirationTime(exp(60)).sign(jwks.ec.privateKey)
  t.equal((await rejection(verifier.verify(wrongKey))).reason, 'bad_signature')
  const other = await generateKeyPair('RS256')
  const foreign = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setSubject('x').setExpirationTime(exp(60)).sign(other.privateKey)
  t.equal((await rejection(verifier.verify(foreign))).reason, 'bad_signature', 'signed by a key not in the set')
  t.ok(jwks.fetches() >= 1 && jwks.fetches() <= 3, 'keys are cached, not fetched per token')
})

t.test('secret and JWKS together: each algorithm uses its own key', async (t) => {
  const jwks = await jwksServer(t)
  const verifier = createTokenVerifier(authConfig({ WALCAST_JWKS_URL: jwks.url, WALCAST_JWT_SECRET: TEST_JWT_SECRET }))
  t.equal((await verifier.verify(await signToken('hs'))).userId, 'hs')
  const rs = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setSubject('rs').setExpirationTime(exp(60)).sign(jwks.rsa.privateKey)
  t.equal((await verifier.verify(rs)).userId, 'rs')
  const publicPem = await exportSPKI(jwks.rsa.publicKey)
  const confused = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('rs').setExpirationTime(exp(60)).sign(new TextEncoder().encode(publicPem))
  t.equal((await rejection(verifier.verify(confused))).reason, 'bad_signature', 'HS256 is only ever checked against the secret')
})

t.test('server-side failures: unreachable key set, no key configured', async (t) => {
  const unreachable = createTokenVerifier(authConfig({ WALCAST_JWKS_URL: 'http://127.0.0.1:9/jwks.json' }))
  const key = await generateKeyPair('RS256')
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setSubject('x').setExpirationTime(exp(60)).sign(key.privateKey)
  const down = await rejection(unreachable.verify(token))
  t.equal(down.reason, 'keys_unavailable')
  t.ok(down.serverSide)
  t.equal(down.code, 'AUTH_UNAVAILABLE')
  const none = createTokenVerifier(authConfig({}))
  t.equal((await rejection(none.verify(await signToken('1')))).reason, 'not_configured')
})

t.test('auth configuration is validated', async (t) => {
  t.throws(() => authConfig({ WALCAST_JWT_SECRET: 'short' }), { code: 'CONFIG_INVALID', variable: 'WALCAST_JWT_SECRET' })
  t.throws(() => authConfig({ WALCAST_JWKS_URL: 'ftp://keys' }), { code: 'CONFIG_INVALID', variable: 'WALCAST_JWKS_URL' })
  t.throws(() => authConfig({ WALCAST_JWKS_URL: 'not a url' }), { code: 'CONFIG_INVALID', variable: 'WALCAST_JWKS_URL' })
  t.throws(() => authConfig({ WALCAST_JWT_CLOCK_TOLERANCE: 'soon' }), { code: 'CONFIG_INVALID', variable: 'WALCAST_JWT_CLOCK_TOLERANCE' })
  t.equal(authConfig({ WALCAST_JWT_CLOCK_TOLERANCE: '0' }).clockToleranceSec, 0)
  t.equal(authConfig({}).clockToleranceSec, 5)
  t.equal(authConfig({}).secret, undefined, 'no key unless configured')
  t.equal(loadConfig({}).auth.secret, 'walcast-demo-secret-never-use-in-production', 'the embedded demo has a published dev secret')
  t.equal(loadConfig({ WALCAST_JWKS_URL: 'https://idp.example/jwks' }).auth.secret, undefined, 'but not when a key set is configured')
})
