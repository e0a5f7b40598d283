/** Room id of the first group of `TWO_OWNERS` (the harness appends '@chatroom'). */
export const G1 = 'g1@chatroom'
/** Room id of the second group of `TWO_OWNERS`. */
export const G2 = 'g2@chatroom'

/** Two groups with different owners (alice owns g1, dave owns g2): the usual setup of scope tests. */
export const TWO_OWNERS = [
  { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' as const }, { id: 'bob', name: '阿强' }] },
  { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' as const }] },
]
