import { sql } from 'kysely'
import type { Db } from '../../db/database.ts'
import type { Logger } from '../../log.ts'

/**
 * Users 1-4 (Ada buys, Sam and Sol sell, Ari is the admin), Ada's buyer profile 1, the
 * seller profiles 1 (Sam) and 2 (Sol): seller ids are not user ids. One request of Ada's
 * with Sam's offer and their chat. Only on an empty sellers table, so a second start
 * reuses what is there; users another catalog's demo already created keep their names.
 */
export async function seedMarketplaceDemo(db: Db, log: Logger): Promise<void> {
  const count = await sql<{ n: number }>`SELECT count(*)::int AS n FROM marketplace.sellers`.execute(db)
  if ((count.rows[0]?.n ?? 0) > 0) return
  await db.transaction().execute(async (trx) => {
    await sql`
      INSERT INTO public.users (id, display_name, email, phone) VALUES
        (1, 'Ada Buyer', 'ada@example.com', '+15550000001'), (2, 'Sam Seller', 'sam@example.com', '+15550000002'),
        (3, 'Sol Seller', 'sol@example.com', '+15550000003'), (4, 'Ari Admin', 'ari@example.com', '+15550000004')
      ON CONFLICT DO NOTHING`.execute(trx)
    await sql`INSERT INTO marketplace.user_roles (user_id, role) VALUES (1, 'buyer'), (2, 'seller'), (3, 'seller'), (4, 'admin') ON CONFLICT DO NOTHING`.execute(trx)
    await sql`INSERT INTO marketplace.buyers (id, user_id, shipping_address) VALUES (1, 1, '1 Demo Street') ON CONFLICT DO NOTHING`.execute(trx)
    await sql`
      INSERT INTO marketplace.sellers (id, user_id, shop_name, payout_account) VALUES
        (1, 2, 'Sam''s Workshop', 'DE00 0000 0000 0000'), (2, 3, 'Sol Supplies', 'FR00 0000 0000 0000')
      ON CONFLICT DO NOTHING`.execute(trx)
    await sql`
      INSERT INTO marketplace.purchase_requests (id, buyer_id, title, description, category, budget, currency, delivery_address)
      VALUES (1, 1, 'Oak standing desk', '160 x 80 cm, electric', 'furniture', 600.00, 'EUR', '1 Demo Street') ON CONFLICT DO NOTHING`.execute(trx)
    await sql`
      INSERT INTO marketplace.offers (id, request_id, seller_id, price, currency, message, internal_cost)
      VALUES (1, 1, 1, 580.00, 'EUR', 'Hand-made, ships in a week', 410.00) ON CONFLICT DO NOTHING`.execute(trx)
    await sql`INSERT INTO marketplace.chats (id, request_id) VALUES (1, 1) ON CONFLICT DO NOTHING`.execute(trx)
    await sql`INSERT INTO marketplace.chat_participants (chat_id, user_id) VALUES (1, 1), (1, 2) ON CONFLICT DO NOTHING`.execute(trx)
    await sql`INSERT INTO marketplace.chat_messages (chat_id, sender_id, body) VALUES (1, 2, 'Happy to answer any question about the desk')`.execute(trx)
    for (const table of ['public.users', 'marketplace.buyers', 'marketplace.sellers', 'marketplace.purchase_requests', 'marketplace.offers', 'marketplace.chats']) {
      await sql`SELECT setval(pg_get_serial_sequence(${table}, 'id'), (SELECT max(id) FROM ${sql.table(table)}))`.execute(trx)
    }
  })
  log.info('seeded demo data: users 1-4 (Ada buys, Sam and Sol sell, Ari administers), request 1 with an offer and a chat')
}
