import { sql } from 'kysely'
import type { Db } from '../../db/database.ts'
import type { Logger } from '../../log.ts'

/**
 * Users 1-3, workspace 1 (Ada owns it, Sam approves) with two agents and a pending
 * approval, and workspace 2 (Ari's alone): a tenant the demo user cannot read. Only on
 * an empty workspaces table, so a second start reuses what is there; users another
 * catalog's demo already created in public.users are kept.
 */
export async function seedApprovalsDemo(db: Db, log: Logger): Promise<void> {
  const count = await sql<{ n: number }>`SELECT count(*)::int AS n FROM approvals.workspaces`.execute(db)
  if ((count.rows[0]?.n ?? 0) > 0) return
  await sql`
    INSERT INTO public.users (id, display_name, email, phone) VALUES
      (1, 'Ada Owner', 'ada@example.com', '+15550000001'), (2, 'Sam Approver', 'sam@example.com', '+15550000002'),
      (3, 'Ari Elsewhere', 'ari@example.com', '+15550000003')
    ON CONFLICT DO NOTHING`.execute(db)
  await sql`INSERT INTO approvals.workspaces (id, name) VALUES (1, 'Acme operations'), (2, 'Globex finance') ON CONFLICT DO NOTHING`.execute(db)
  await sql`
    INSERT INTO approvals.workspace_members (workspace_id, user_id, role) VALUES (1, 1, 'owner'), (1, 2, 'approver'), (2, 3, 'owner')
    ON CONFLICT DO NOTHING`.execute(db)
  await sql`INSERT INTO approvals.agents (id, workspace_id, name, status) VALUES (1, 1, 'invoice-bot', 'idle'), (2, 1, 'deploy-bot', 'idle') ON CONFLICT DO NOTHING`.execute(db)
  await sql`
    INSERT INTO approvals.approvals (id, workspace_id, title, requested_by, requester_email, internal_note)
    VALUES (1, 1, 'Q3 budget', 1, 'ada@example.com', 'seeded') ON CONFLICT DO NOTHING`.execute(db)
  for (const table of ['public.users', 'approvals.workspaces', 'approvals.agents', 'approvals.approvals']) {
    await sql`SELECT setval(pg_get_serial_sequence(${table}, 'id'), (SELECT max(id) FROM ${sql.table(table)}))`.execute(db)
  }
  log.info('seeded demo data: users 1-3, workspace 1 (Ada, Sam), workspace 2 (Ari)')
}

type Step = (db: Db, approvalId: string) => Promise<string>

const notify = (db: Db, userId: number, title: string) =>
  sql`INSERT INTO approvals.notifications (user_id, workspace_id, kind, title) VALUES (${userId}, 1, 'approval', ${title})`.execute(db)
const agent = (db: Db, id: number, status: string) =>
  sql`UPDATE approvals.agents SET status = ${status}, updated_at = now() WHERE id = ${id}`.execute(db)
const chat = (db: Db, authorId: number, body: string) =>
  sql`INSERT INTO approvals.chat_messages (workspace_id, author_id, body) VALUES (1, ${authorId}, ${body})`.execute(db)

/**
 * One approval's life in workspace 1, a step per tick: an agent runs, Sam is notified,
 * the team chats, Ari visits and leaves (member.left), Sam approves, Ada is notified, the
 * approval is archived. Chat and notifications keep their last 50 rows: the demo is bounded.
 */
const SCRIPT: readonly Step[] = [
  async (db, id) => { await agent(db, 1, 'running'); await notify(db, 2, `Approval #${id} waits for you`); return 'agent running, Sam notified' },
  async (db, id) => { await chat(db, 1, `Can someone look at #${id}?`); return 'chat' },
  async (db) => { await sql`INSERT INTO approvals.workspace_members (workspace_id, user_id) VALUES (1, 3) ON CONFLICT DO NOTHING`.execute(db); await chat(db, 3, 'Visiting from Globex'); return 'Ari joined' },
  async (db) => { await sql`DELETE FROM approvals.workspace_members WHERE workspace_id = 1 AND user_id = 3`.execute(db); return 'Ari left' },
  async (db, id) => {
    await sql`UPDATE approvals.approvals SET status = 'approved', decided_by = 2, decided_at = now() WHERE id = ${id}`.execute(db)
    await notify(db, 1, `Approval #${id} approved`)
    await agent(db, 1, 'idle')
    return 'approved, Ada notified'
  },
  async (db, id) => {
    await sql`DELETE FROM approvals.approvals WHERE id = ${id}`.execute(db)
    for (const table of ['chat_messages', 'notifications']) {
      await sql`DELETE FROM ${sql.table(`approvals.${table}`)} WHERE id <= (SELECT max(id) - 50 FROM ${sql.table(`approvals.${table}`)})`.execute(db)
    }
    return 'archived'
  },
]

/** Files an approval in workspace 1, then walks it to its archive; then the next. Needs the seed. */
export function approvalsDemoScript(): (db: Db) => Promise<string> {
  let index = 0
  let approvalId: string | undefined
  return async (db) => {
    if (approvalId === undefined || index >= SCRIPT.length) {
      const created = await sql<{ id: string }>`
        INSERT INTO approvals.approvals (workspace_id, title, description, requested_by, requester_email)
        VALUES (1, 'Purchase order ' || to_char(now(), 'HH24:MI:SS'), 'Two laptops for the new hires', 1, 'ada@example.com')
        RETURNING id::text AS id`.execute(db)
      approvalId = created.rows[0]!.id
      index = 0
      return `approval ${approvalId} requested`
    }
    const done = await SCRIPT[index]!(db, approvalId)
    index++
    return `approval ${approvalId}: ${done}`
  }
}
