import { csvChunks, csvDocument, parseCsv } from './csv'

describe('CSV', () => {
  it('streams the same document as it builds whole: BOM, header, CRLF, quoting and formula-safety, in several chunks', async () => {
    const rows = Array.from({ length: 1234 }, (_, i) => [i, i % 7 === 0 ? '=HYPERLINK("x")' : `名字, "${i}"`, i % 5 === 0 ? null : '+1', '-2\n3'] as Array<string | number | null>)
    const header = ['n', 'name', 'plus', 'multi']
    const chunks: string[] = []
    for await (const chunk of csvChunks(header, rows)) chunks.push(chunk)
    expect(chunks.length).toBe(1 + Math.ceil(rows.length / 500))
    const streamed = chunks.join('')
    expect(streamed).toBe(csvDocument(header, rows))
    expect(streamed.charCodeAt(0)).toBe(0xfeff)
    const parsed = parseCsv(streamed)
    expect(parsed[0]).toEqual(header)
    expect(parsed[1]).toEqual(['0', `'=HYPERLINK("x")`, '', "'-2\n3"])
    expect(parsed[2]).toEqual(['1', '名字, "1"', "'+1", "'-2\n3"])
    expect(parsed).toHaveLength(rows.length + 1)
  })

  it('streams rows from an async source and an empty table as its header', async () => {
    async function* source(): AsyncGenerator<Array<string | number | null>> { for (let i = 0; i < 3; i++) yield [i, `r${i}`] }
    let out = ''
    for await (const c of csvChunks(['a', 'b'], source())) out += c
    expect(out).toBe('\ufeffa,b\r\n0,r0\r\n1,r1\r\n2,r2\r\n')
    let empty = ''
    for await (const c of csvChunks(['a'], [])) empty += c
    expect(empty).toBe(csvDocument(['a'], []))
  })
})
