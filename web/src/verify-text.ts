import { lang, t, type MessageKey } from './i18n'

/**
 * The verifier's findings in the reader's language. The verifier itself words them as the server's
 * verifier does (English, compared one for one in the tests), so the translation happens here, at display:
 * each known wording is matched and its values carried over; an unknown one is shown as it is.
 */
const PATTERNS: Array<[RegExp, MessageKey, string[]]> = [
  [/^not a lottery proof: (.+)$/, 'vp_shape', ['what']],
  [/^not a lottery proof$/, 'vp_notProof', []],
  [/^the seed is not revealed yet/, 'vp_noSeed', []],
  [/^seed: not 32 bytes of hex$/, 'vp_seedHex', []],
  [/^commitment: SHA-256\(seed\) is (\S+), the published commitment is (\S+)$/, 'vp_commitment', ['a', 'b']],
  [/^entrants: not a duplicate-free list in canonical/, 'vp_entrantsOrder', []],
  [/^entrantsHash: the list hashes to (\S+), the published hash is (\S+)$/, 'vp_entrantsHash', ['a', 'b']],
  [/^algorithm: a proof (with|without) a beacon uses (.+)$/, 'vp_algorithm', ['with', 'alg']],
  [/^beacon: randomness is not 32 bytes of hex$/, 'vp_beaconHex', []],
  [/^beacon: randomness is not SHA-256\(signature\)/, 'vp_beaconSig', []],
  [/^beacon: round (\d+) is not the first round published after the close \((\d+)\)$/, 'vp_beaconRound', ['a', 'b']],
  [/^round (\d+): eligible members who never entered: (.*)$/, 'vp_neverEntered', ['round', 'ids']],
  [/^round (\d+): earlier winners eligible again: (.*)$/, 'vp_winnersAgain', ['round', 'ids']],
  [/^round (\d+): entrants neither eligible nor excluded: (.*)$/, 'vp_unaccounted', ['round', 'ids']],
  [/^round (\d+): eligible list hashes to (\S+), the proof says (\S+)$/, 'vp_eligibleHash', ['round', 'a', 'b']],
  [/^round (\d+): winners recompute to \[(.*)\], the proof says \[(.*)\]$/, 'vp_winners', ['round', 'a', 'b']],
]

export function verifyProblemText(problem: string): string {
  if (lang.get() === 'en') return problem
  for (const [re, key, names] of PATTERNS) {
    const m = re.exec(problem)
    if (!m) continue
    const vars: Record<string, string> = {}
    names.forEach((name, i) => { vars[name] = m[i + 1] ?? '' })
    if ('with' in vars) vars.with = vars.with === 'with' ? t('vp_withBeacon') : t('vp_withoutBeacon')
    return t(key, vars)
  }
  return problem
}
