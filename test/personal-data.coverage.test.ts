import { Column, Entity, PrimaryColumn } from 'typeorm'
import { databaseSchema } from '../src/adapters/db/data-source'
import { FEATURES } from '../src/features'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { dataMapMarkdown, declaredPersonalData, undeclaredMemberColumns } from '../src/personal-data'
import { DATA_CLASSES } from '../src/kernel/personal-data'

/** A table a careless feature might add: it names members and declares nothing. */
@Entity('qy_probe_forgotten')
class ForgottenEntity {
  @PrimaryColumn({ type: 'varchar', length: 191 }) id!: string
  @Column({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
}

describe('personal-data declarations cover every table naming members', () => {
  const declared = declaredPersonalData(FEATURES)
  const { entities } = databaseSchema(FEATURES)

  it('every entity with a member-id column is declared, with that column', () => {
    expect(undeclaredMemberColumns(entities, declared)).toEqual([])
  })

  it('fails for a table holding member ids that no feature declares', () => {
    expect(undeclaredMemberColumns([...entities, ForgottenEntity], declared)).toEqual(['qy_probe_forgotten: holds member ids (member_id) but no feature declares it in personalData'])
  })

  it('every feature declares its personal data, each table once, with a known class and only its own entities', () => {
    for (const f of FEATURES) expect({ feature: f.name, declared: f.personalData !== undefined }).toEqual({ feature: f.name, declared: true })
    const seen = new Set<unknown>()
    for (const { owner, declaration } of declared) {
      const own = owner === 'core' || owner === 'wecom' ? entities : (FEATURES.find((f) => f.name === owner)?.entities ?? [])
      expect(declaration.purpose.length).toBeGreaterThan(10)
      for (const t of declaration.tables) {
        expect({ owner, table: t.entity.name, own: own.includes(t.entity), once: !seen.has(t.entity) }).toEqual({ owner, table: t.entity.name, own: true, once: true })
        seen.add(t.entity)
        expect(DATA_CLASSES).toContain(t.dataClass)
      }
    }
  })

  it("the README's data map is the declarations' (qunyun data-map)", () => {
    const readme = readFileSync(join(__dirname, '../README.md'), 'utf8')
    const block = /<!-- data-map:start -->\n([\s\S]*?)<!-- data-map:end -->/.exec(readme)?.[1]
    expect(block).toBe(dataMapMarkdown(declared))
  })
})
