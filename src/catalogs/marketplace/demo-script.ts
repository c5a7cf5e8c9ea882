import { sql } from 'kysely'
import type { Db } from '../../db/database.ts'

/** What marks a request as the demo writer's: it prunes no other. */
export const DEMO_DESCRIPTION = 'Written by the walcast demo'
/** Demo requests kept (newest first); older ones go with their offers, chats, payments and disputes. */
export const DEMO_REQUESTS_KEPT = 10
/** Notifications of the demo users (and broadcasts) kept (newest first). */
export const DEMO_NOTIFICATIONS_KEPT = 50

// A step runs inside the writer's transaction.
type Trx = Db
type Step = (trx: Trx, requestId: string) => Promise<string>

// Users and profiles of the seed: Ada (user 1, buyer 1), Sam (user 2, seller 1), Sol
// (user 3, seller 2), Ari (user 4, admin).
const notify = (trx: Trx, userId: number, kind: string, title: string) =>
  sql`INSERT INTO marketplace.notifications (audience, user_id, kind, title) VALUES ('user', ${userId}, ${kind}, ${title})`.execute(trx)
const broadcast = (trx: Trx, audience: 'sellers' | 'buyers', title: string) =>
  sql`INSERT INTO marketplace.notifications (audience, kind, title) VALUES (${audience}, 'news', ${title})`.execute(trx)
const offer = (trx: Trx, requestId: string, sellerId: number, price: string, message: string) =>
  sql`INSERT INTO marketplace.offers (request_id, seller_id, price, currency, message, internal_cost) VALUES (${requestId}, ${sellerId}, ${price}::numeric, 'EUR', ${message}, 150.00)`.execute(trx)
const requestStatus = (trx: Trx, requestId: string, status: string) =>
  sql`UPDATE marketplace.purchase_requests SET status = ${status}, updated_at = now() WHERE id = ${requestId}`.execute(trx)
const chatOf = async (trx: Trx, requestId: string): Promise<string> =>
  (await sql<{ id: string }>`SELECT id::text AS id FROM marketplace.chats WHERE request_id = ${requestId} ORDER BY id LIMIT 1`.execute(trx)).rows[0]!.id
const say = (trx: Trx, chatId: string, senderId: number, body: string) =>
  sql`INSERT INTO marketplace.chat_messages (chat_id, sender_id, body) VALUES (${chatId}, ${senderId}, ${body})`.execute(trx)

/**
 * One request's life, a step per tick: Sam and Sol bid, Ada and Sam chat and haggle, Ada
 * accepts Sam's offer (Sol's is rejected), pays, disputes a scratch, the dispute is
 * settled, Sam is paid out; notifications on the way, and a broadcast to each role.
 */
const SCRIPT: readonly Step[] = [
  async (trx, id) => {
    await offer(trx, id, 1, '240.00', 'Solid beech, ships tomorrow')
    await notify(trx, 1, 'offer', `New offer on request #${id}`)
    return 'Sam offered 240.00'
  },
  async (trx, id) => {
    await offer(trx, id, 2, '225.00', 'Pine, ships next week')
    await requestStatus(trx, id, 'negotiating')
    return 'Sol offered 225.00, negotiating'
  },
  async (trx, id) => {
    const chat = await sql<{ id: string }>`INSERT INTO marketplace.chats (request_id) VALUES (${id}) RETURNING id::text AS id`.execute(trx)
    const chatId = chat.rows[0]!.id
    await sql`INSERT INTO marketplace.chat_participants (chat_id, user_id) VALUES (${chatId}, 1), (${chatId}, 2)`.execute(trx)
    await say(trx, chatId, 1, 'Could you do 220?')
    return `chat ${chatId} opened`
  },
  async (trx, id) => {
    const chatId = await chatOf(trx, id)
    await sql`
      UPDATE marketplace.chat_participants SET last_read_message_id = (SELECT max(id) FROM marketplace.chat_messages WHERE chat_id = ${chatId}), last_read_at = now()
      WHERE chat_id = ${chatId} AND user_id = 2`.execute(trx)
    await sql`UPDATE marketplace.offers SET price = 230.00, round = round + 1, status = 'countered', last_by = 'seller', updated_at = now() WHERE request_id = ${id} AND seller_id = 1`.execute(trx)
    await say(trx, chatId, 2, '230, and it ships tomorrow')
    return 'Sam read and countered 230.00'
  },
  async (trx, id) => {
    await sql`UPDATE marketplace.offers SET status = 'accepted', last_by = 'buyer', updated_at = now() WHERE request_id = ${id} AND seller_id = 1`.execute(trx)
    await sql`UPDATE marketplace.offers SET status = 'rejected', last_by = 'buyer', updated_at = now() WHERE request_id = ${id} AND seller_id <> 1`.execute(trx)
    await requestStatus(trx, id, 'awarded')
    await notify(trx, 2, 'offer', `Ada accepted your offer on request #${id}`)
    await notify(trx, 3, 'offer', `Request #${id} went to another seller`)
    return 'Ada accepted Sam\'s offer'
  },
  async (trx, id) => {
    await sql`
      INSERT INTO marketplace.payments (offer_id, amount, currency, provider_ref, card_last4)
      SELECT id, price, currency, 'pi_demo_' || id, '4242' FROM marketplace.offers WHERE request_id = ${id} AND seller_id = 1`.execute(trx)
    await sql`UPDATE marketplace.payments SET status = 'captured', updated_at = now() WHERE request_id = ${id} AND status = 'pending'`.execute(trx)
    return 'paid'
  },
  async (trx, id) => {
    await sql`
      INSERT INTO marketplace.disputes (offer_id, opened_by, reason, admin_notes)
      SELECT id, 1, 'Arrived with a scratch', 'check the courier' FROM marketplace.offers WHERE request_id = ${id} AND seller_id = 1`.execute(trx)
    await notify(trx, 4, 'dispute', `Dispute on request #${id}`)
    return 'dispute opened'
  },
  async (trx, id) => {
    await sql`UPDATE marketplace.disputes SET status = 'resolved', resolution = 'partial refund of 20.00 EUR', resolved_at = now() WHERE request_id = ${id} AND status = 'open'`.execute(trx)
    await requestStatus(trx, id, 'completed')
    return 'dispute resolved, completed'
  },
  async (trx, id) => {
    await sql`
      INSERT INTO marketplace.payouts (seller_id, payment_id, amount, currency, bank_account)
      SELECT seller_id, id, amount - 20.00, currency, 'DE00 0000 0000 0000' FROM marketplace.payments WHERE request_id = ${id}`.execute(trx)
    await sql`UPDATE marketplace.payouts SET status = 'completed', completed_at = now() WHERE payment_id IN (SELECT id FROM marketplace.payments WHERE request_id = ${id})`.execute(trx)
    await broadcast(trx, 'sellers', 'Payouts now run every day')
    await broadcast(trx, 'buyers', 'Three new sellers joined this week')
    return 'Sam paid out'
  },
]

/**
 * Posts a request of Ada's, then walks it through SCRIPT; then the next. Each step is one
 * transaction. Each new request deletes the demo requests past the newest
 * DEMO_REQUESTS_KEPT (their offers, chats, payments and disputes go with them) and old
 * notifications, so a demo left running stays bounded. Needs the seed.
 */
export function marketplaceDemoScript(): (db: Db) => Promise<string> {
  let index = 0
  let requestId: string | undefined
  return (db) => db.transaction().execute(async (trx) => {
    if (requestId === undefined || index >= SCRIPT.length) {
      await prune(trx)
      const created = await sql<{ id: string }>`
        INSERT INTO marketplace.purchase_requests (buyer_id, title, description, category, budget, currency, delivery_address)
        VALUES (1, 'Bookshelf ' || to_char(now(), 'HH24:MI:SS'), ${DEMO_DESCRIPTION}, 'furniture', 250.00, 'EUR', '1 Demo Street')
        RETURNING id::text AS id`.execute(trx)
      requestId = created.rows[0]!.id
      index = 0
      return `request ${requestId} posted`
    }
    try {
      const done = await SCRIPT[index]!(trx, requestId)
      index++
      return `request ${requestId}: ${done}`
    } catch (err) {
      // The request was changed under the writer (deleted, moved on by hand): start a new one.
      requestId = undefined
      throw err
    }
  })
}

async function prune(trx: Trx): Promise<void> {
  await sql`
    DELETE FROM marketplace.purchase_requests WHERE description = ${DEMO_DESCRIPTION}
      AND id < ALL (SELECT id FROM marketplace.purchase_requests WHERE description = ${DEMO_DESCRIPTION} ORDER BY id DESC LIMIT ${DEMO_REQUESTS_KEPT - 1})`.execute(trx)
  await sql`
    DELETE FROM marketplace.notifications WHERE (user_id IN (1, 2, 3, 4) OR user_id IS NULL)
      AND id < ALL (SELECT id FROM marketplace.notifications WHERE user_id IN (1, 2, 3, 4) OR user_id IS NULL ORDER BY id DESC LIMIT ${DEMO_NOTIFICATIONS_KEPT})`.execute(trx)
}
