// The walcast dashboard: plain ES module, no build step. The SDK is served at
// /dashboard/walcast-client.js, bundled by walcast from src/client on first request.
// Generic over the running catalog: /v1/dev/overview says what to list and which topics
// to subscribe to (the catalog's `dashboard`, docs/catalogs.md: the user's own topics and
// one follow set for all the rows); every event is rendered the same way.
import { createClient } from '/dashboard/walcast-client.js'

const $ = (id) => document.getElementById(id)
const state = { client: undefined, token: undefined, user: undefined, topics: new Set(), unread: 0, overview: undefined, refresh: undefined, status: undefined, subscriptions: new Map() }
const LABELS = { connecting: 'connecting…', open: 'connected', reconnecting: 'reconnecting…', offline: 'offline', failed: 'offline' }
const FEED_MAX = 200

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
  $('rows-panel').hidden = false
  $('feed-panel').hidden = false
  await getToken()
  // ?attempts=N shortens the way to "offline" (demos, tests); the SDK default is 10.
  const attempts = Number(new URLSearchParams(location.search).get('attempts')) || undefined
  const client = createClient({ url: location.origin, getToken, onReset: () => loadOverview(), backoff: { maxAttempts: attempts } })
  state.client = client
  client.onStatus((info) => {
    state.status = info
    $('retry').hidden = !(info.status === 'failed' || info.status === 'offline')
    showConnection()
  })
  // A topic the server refused gets no events, whatever the connection says: never show
  // green over it (issue #12: a dashboard past the subscription limit looked live).
  client.onSubscriptionState((topic, subscription) => {
    state.subscriptions.set(topic, subscription)
    showConnection()
  })
  await loadOverview()
}

function showConnection() {
  if (state.status === undefined) return
  const { status, transport } = state.status
  const refused = [...state.subscriptions].filter(([, s]) => s.state === 'refused')
  const label = $('connection')
  if (status === 'open' && refused.length > 0) {
    label.dataset.state = 'degraded'
    label.textContent = `partly live · ${refused.length} topic${refused.length === 1 ? '' : 's'} refused`
  } else {
    label.dataset.state = status
    label.textContent = LABELS[status] + (status === 'open' && transport !== 'websocket' ? ` (${transport})` : '')
  }
  const live = [...state.subscriptions].filter(([, s]) => s.state === 'live').map(([topic]) => topic)
  const notLive = refused.map(([topic, s]) => `${topic} (${s.code}: ${s.message})`)
  $('topics').textContent = [live.length > 0 ? `Live on ${live.join(', ')}` : '', notLive.length > 0 ? `Not live: ${notLive.join('; ')}` : ''].filter(Boolean).join('. ')
  $('topics').dataset.refused = String(refused.length)
}

/** Rows and topics from the server; new topics are subscribed, none is ever subscribed twice. */
async function loadOverview() {
  const response = await fetch('/v1/dev/overview', { headers: { authorization: `Bearer ${state.token}` } })
  if (!response.ok) return
  const overview = await response.json()
  state.overview = overview
  $('catalog').textContent = `${overview.catalog} dashboard`
  $('rows-title').textContent = overview.title
  $('bell').hidden = overview.notifications.length === 0
  $('columns').replaceChildren(...overview.columns.map((column) => cell('th', column.label)))
  $('rows').replaceChildren(...overview.rows.map((row) => rowFor(overview.columns, row)))
  for (const { topic } of overview.topics) {
    if (state.topics.has(topic)) continue
    state.topics.add(topic)
    state.client.subscribe(topic, onEvent)
  }
  $('shown').textContent = overview.rows.length > 0 ? `The latest ${overview.rows.length} (newest first).` : ''
  showConnection()
}

// An event may change what the list shows (a status, a new row, a new topic): reload it,
// at most once per burst of events.
function refreshSoon() {
  clearTimeout(state.refresh)
  state.refresh = setTimeout(() => void loadOverview(), 150)
}

function cell(tag, text) {
  const element = document.createElement(tag)
  element.textContent = text
  return element
}

function rowFor(columns, row) {
  const element = document.createElement('tr')
  element.dataset.row = row.id
  element.dataset.topic = row.topic
  for (const column of columns) {
    const td = cell('td', row.cells[column.key] ?? '')
    td.className = column.key
    element.append(td)
  }
  return element
}

const show = (value) => value === null || value === undefined ? '–' : typeof value === 'object' ? JSON.stringify(value) : String(value)

/** The catalog's one-line summary for this event type, `{field}` filled from the payload. */
function summary(event) {
  const template = state.overview?.summaries[event.type]
  return template === undefined ? event.type : template.replace(/\{(\w+)\}/g, (_, key) => show(event.data?.[key]))
}

function onEvent(event) {
  const item = document.createElement('li')
  item.className = 'fresh'
  item.dataset.id = event.id
  item.dataset.type = event.type
  item.dataset.topic = event.topic
  const head = cell('div', summary(event))
  head.className = 'type'
  const meta = cell('div', `${event.type} · ${event.topic} · ${new Date(event.ts).toLocaleTimeString()}`)
  meta.className = 'meta'
  const data = document.createElement('dl')
  data.className = 'data'
  for (const [key, value] of Object.entries(event.data ?? {})) data.append(cell('dt', key), cell('dd', show(value)))
  item.append(head, meta, data)
  $('feed').prepend(item)
  while ($('feed').children.length > FEED_MAX) $('feed').lastElementChild.remove()
  if (state.overview?.notifications.includes(event.type)) {
    state.unread++
    $('badge').textContent = String(state.unread)
    $('badge').dataset.count = String(state.unread)
  }
  refreshSoon()
}

$('retry').addEventListener('click', () => state.client?.retry())
$('bell').addEventListener('click', () => {
  state.unread = 0
  $('badge').textContent = '0'
  $('badge').dataset.count = '0'
})
void loadUsers()
