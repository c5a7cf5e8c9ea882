// The walcast dashboard: plain ES module, no build step. The SDK is served at
// /dashboard/walcast-client.js, bundled by walcast from src/client on first request.
import { createClient } from '/dashboard/walcast-client.js'

const $ = (id) => document.getElementById(id)
const state = { client: undefined, token: undefined, user: undefined, escrowTopics: new Set(), unread: 0 }
const LABELS = { connecting: 'connecting…', open: 'connected', reconnecting: 'reconnecting…', offline: 'offline', failed: 'offline' }

async function loadUsers() {
  const response = await fetch('/v1/dev/users')
  if (!response.ok) {
    $('users').textContent = 'Dev sign-in is disabled on this server.'
    return
  }
  const { users } = await response.json()
  for (const user of users) {
    const button = document.createElement('button')
    button.textContent = user.name
    button.dataset.user = user.id
    button.addEventListener('click', () => signIn(user))
    $('users').append(button)
  }
}

async function getToken() {
  const response = await fetch(`/v1/dev/token?user=${encodeURIComponent(state.user.id)}`)
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`)
  state.token = (await response.json()).token
  return state.token
}

async function signIn(user) {
  state.user = user
  $('who').textContent = user.name
  $('signin').hidden = true
  $('escrows-panel').hidden = false
  $('feed-panel').hidden = false
  await getToken()
  // ?attempts=N shortens the way to "offline" (demos, tests); the SDK default is 10.
  const attempts = Number(new URLSearchParams(location.search).get('attempts')) || undefined
  const client = createClient({ url: location.origin, getToken, onReset: () => loadEscrows(), backoff: { maxAttempts: attempts } })
  state.client = client
  client.onStatus(({ status, transport }) => {
    const label = $('connection')
    label.dataset.state = status
    label.textContent = LABELS[status] + (status === 'open' && transport !== 'websocket' ? ` (${transport})` : '')
    $('retry').hidden = !(status === 'failed' || status === 'offline')
  })
  client.subscribe(`user:${user.id}`, onEvent)
  await loadEscrows()
}

async function loadEscrows() {
  const response = await fetch('/v1/dev/escrows', { headers: { authorization: `Bearer ${state.token}` } })
  if (!response.ok) return
  const { escrows } = await response.json()
  const body = $('escrows')
  body.replaceChildren()
  for (const escrow of escrows) {
    body.append(escrowRow(escrow))
    if (!state.escrowTopics.has(escrow.id)) {
      state.escrowTopics.add(escrow.id)
      state.client.subscribe(`escrow:${escrow.id}`, onEvent)
    }
  }
}

function escrowRow(escrow) {
  const row = document.createElement('tr')
  row.dataset.escrow = escrow.id
  for (const value of [escrow.id, escrow.title, `${escrow.amount} ${escrow.currency}`, escrow.role]) {
    const cell = document.createElement('td')
    cell.textContent = value
    row.append(cell)
  }
  const status = document.createElement('td')
  status.className = 'status'
  status.textContent = escrow.status
  row.append(status)
  return row
}

function describe(event) {
  const d = event.data
  switch (event.type) {
    case 'escrow:status_changed': return `Escrow #${d.escrowId}: ${d.from ?? 'new'} → ${d.to}`
    case 'escrow:milestone_released': return `Escrow #${d.escrowId}: milestone released (${d.amount} ${d.currency})`
    case 'escrow:dispute_filed': return `Escrow #${d.escrowId}: dispute filed: ${d.reason}`
    case 'escrow:dispute_resolved': return `Escrow #${d.escrowId}: dispute resolved: ${d.resolution ?? ''}`
    case 'escrow:party_joined': return `Escrow #${d.escrowId}: user ${d.userId} joined as ${d.role}`
    case 'escrow:party_left': return `Escrow #${d.escrowId}: user ${d.userId} left`
    case 'notification:new': return `${d.title}: ${d.body}`
    default: return event.type
  }
}

function onEvent(event) {
  const item = document.createElement('li')
  item.className = 'fresh'
  item.dataset.id = event.id
  item.dataset.type = event.type
  const type = document.createElement('div')
  type.className = 'type'
  type.textContent = describe(event)
  const meta = document.createElement('div')
  meta.className = 'meta'
  meta.textContent = `${event.type} · ${event.topic} · ${new Date(event.ts).toLocaleTimeString()}`
  item.append(type, meta)
  $('feed').prepend(item)
  while ($('feed').children.length > 200) $('feed').lastElementChild.remove()
  if (event.type === 'notification:new') {
    // A new escrow announces itself to its parties this way: pick up its topic.
    if (event.data.kind === 'escrow') void loadEscrows()
    state.unread++
    $('badge').textContent = String(state.unread)
    $('badge').dataset.count = String(state.unread)
  }
  if (event.type === 'escrow:status_changed') {
    const cell = document.querySelector(`tr[data-escrow="${CSS.escape(event.data.escrowId)}"] .status`)
    if (cell) cell.textContent = event.data.to
  }
  if (event.type === 'escrow:party_joined' && event.data.userId === state.user.id) void loadEscrows()
}

$('retry').addEventListener('click', () => state.client?.retry())
$('badge').parentElement.addEventListener('click', () => {
  state.unread = 0
  $('badge').textContent = '0'
  $('badge').dataset.count = '0'
})
void loadUsers()
