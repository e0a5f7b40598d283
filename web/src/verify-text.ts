import { lang } from './i18n'

/** The findings' wording, zh-CN and English (kept with the verifier's page, out of the first load). */
const TEXT = {
  shape: ['不是有效的抽奖证明：{what}', 'not a lottery proof: {what}'],
  notProof: ['不是有效的抽奖证明', 'not a lottery proof'],
  noSeed: ['种子尚未公开（抽奖还没有开奖）', 'the seed is not revealed yet (the lottery has not been drawn)'],
  seedHex: ['种子不是 32 字节的十六进制', 'seed: not 32 bytes of hex'],
  commitment: ['承诺值不符：SHA-256(种子) 为 {a}，公布的承诺为 {b}', 'commitment: SHA-256(seed) is {a}, the published commitment is {b}'],
  entrantsOrder: ['参与者名单不是无重复、按规范（UTF-8 字节）顺序排列的列表', 'entrants: not a duplicate-free list in canonical (UTF-8 byte) order'],
  entrantsHash: ['参与者名单哈希不符：名单哈希为 {a}，公布的哈希为 {b}', 'entrantsHash: the list hashes to {a}, the published hash is {b}'],
  algorithm: ['算法不符：{with}的证明应使用 {alg}', 'algorithm: a proof {with} uses {alg}'],
  withBeacon: ['含随机信标', 'with a beacon'],
  withoutBeacon: ['不含随机信标', 'without a beacon'],
  beaconHex: ['信标随机数不是 32 字节的十六进制', 'beacon: randomness is not 32 bytes of hex'],
  beaconSig: ['信标随机数不是签名的 SHA-256（drand 的定义）', 'beacon: randomness is not SHA-256(signature), as drand defines it'],
  beaconRound: ['信标轮次 {a} 不是截止后发布的第一轮（{b}）', 'beacon: round {a} is not the first round published after the close ({b})'],
  neverEntered: ['第 {round} 轮：未参与却有资格的成员：{ids}', 'round {round}: eligible members who never entered: {ids}'],
  winnersAgain: ['第 {round} 轮：之前的中奖者再次有资格：{ids}', 'round {round}: earlier winners eligible again: {ids}'],
  unaccounted: ['第 {round} 轮：既不在资格名单也不在排除名单的参与者：{ids}', 'round {round}: entrants neither eligible nor excluded: {ids}'],
  eligibleHash: ['第 {round} 轮：资格名单哈希为 {a}，证明中为 {b}', 'round {round}: eligible list hashes to {a}, the proof says {b}'],
  winners: ['第 {round} 轮：中奖者重算为 [{a}]，证明中为 [{b}]', 'round {round}: winners recompute to [{a}], the proof says [{b}]'],
} as const
type Key = keyof typeof TEXT

function t(key: Key, vars: Record<string, string> = {}): string {
  return TEXT[key][lang.get() === 'en' ? 1 : 0].replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? vars[name]! : m))
}

/**
 * The verifier's findings in the reader's language. The verifier itself words them as the server's
 * verifier does (English, compared one for one in the tests), so the translation happens here, at display:
 * each known wording is matched and its values carried over; an unknown one is shown as it is.
 */
const PATTERNS: Array<[RegExp, Key, string[]]> = [
  [/^not a lottery proof: (.+)$/, 'shape', ['what']],
  [/^not a lottery proof$/, 'notProof', []],
  [/^the seed is not revealed yet/, 'noSeed', []],
  [/^seed: not 32 bytes of hex$/, 'seedHex', []],
  [/^commitment: SHA-256\(seed\) is (\S+), the published commitment is (\S+)$/, 'commitment', ['a', 'b']],
  [/^entrants: not a duplicate-free list in canonical/, 'entrantsOrder', []],
  [/^entrantsHash: the list hashes to (\S+), the published hash is (\S+)$/, 'entrantsHash', ['a', 'b']],
  [/^algorithm: a proof (with|without) a beacon uses (.+)$/, 'algorithm', ['with', 'alg']],
  [/^beacon: randomness is not 32 bytes of hex$/, 'beaconHex', []],
  [/^beacon: randomness is not SHA-256\(signature\)/, 'beaconSig', []],
  [/^beacon: round (\d+) is not the first round published after the close \((\d+)\)$/, 'beaconRound', ['a', 'b']],
  [/^round (\d+): eligible members who never entered: (.*)$/, 'neverEntered', ['round', 'ids']],
  [/^round (\d+): earlier winners eligible again: (.*)$/, 'winnersAgain', ['round', 'ids']],
  [/^round (\d+): entrants neither eligible nor excluded: (.*)$/, 'unaccounted', ['round', 'ids']],
  [/^round (\d+): eligible list hashes to (\S+), the proof says (\S+)$/, 'eligibleHash', ['round', 'a', 'b']],
  [/^round (\d+): winners recompute to \[(.*)\], the proof says \[(.*)\]$/, 'winners', ['round', 'a', 'b']],
]

export function verifyProblemText(problem: string): string {
  if (lang.get() === 'en') return problem
  for (const [re, key, names] of PATTERNS) {
    const m = re.exec(problem)
    if (!m) continue
    const vars: Record<string, string> = {}
    names.forEach((name, i) => { vars[name] = m[i + 1] ?? '' })
    if ('with' in vars) vars.with = vars.with === 'with' ? t('withBeacon') : t('withoutBeacon')
    return t(key, vars)
  }
  return problem
}
