import t from 'tap'
import { compileAccess } from '../../src/catalog/access.ts'
import { formatTopic, ID_SHAPES, parseTopicPattern, type TopicPattern } from '../../src/catalog/topic-pattern.ts'

t.test('I10: each id shape accepts only its canonical spelling', async (t) => {
  t.same(['1', '9223372036854775807', '01', '0', '-1', '9223372036854775808', '1 OR 1=1', ''].map(ID_SHAPES.int8.test), [true, true, false, false, false, false, false, false])
  t.same(['0b7c7f8e-1d2a-4c3b-9e8f-123456789abc', '0B7C7F8E-1D2A-4C3B-9E8F-123456789ABC', '0b7c7f8e1d2a4c3b9e8f123456789abc', 'x'].map(ID_SHAPES.uuid.test), [true, false, false, false])
  t.same(['ws-1', 'Team_2.a', '', 'a b', 'a:b', 'x'.repeat(201)].map(ID_SHAPES.text.test), [true, true, false, false, false, false])
})

t.test('patterns: a literal, a placeholder with a prefix and a suffix', async (t) => {
  const p = parseTopicPattern('workspace:{id}:chat') as TopicPattern
  t.same(p, { source: 'workspace:{id}:chat', prefix: 'workspace:', suffix: ':chat', param: 'id' })
  t.equal(formatTopic(p, '7'), 'workspace:7:chat')
  t.equal(formatTopic(parseTopicPattern('admin:disputes') as TopicPattern, 'ignored'), 'admin:disputes')
  const access = compileAccess({ access: { 'workspace:{id}:chat': { kind: 'self' }, 'workspace:{id}': { kind: 'role', role: 'x' }, 'ops': { kind: 'role', role: 'ops' } } })
  t.same(access.resolve('workspace:7:chat')?.id, '7')
  t.same(access.resolve('workspace:7')?.pattern.source, 'workspace:{id}')
  t.same(access.resolve('ops')?.id, '')
  // …and the rule refuses the empty id: for a lookup rule through the same query as any other (I10).
  t.same(access.resolve('workspace:')?.id, '', 'a prefix alone resolves to its rule with an empty id…')
  t.equal(access.resolve('opsx'), undefined)
  t.same(access.revoking('anything'), [])
})
