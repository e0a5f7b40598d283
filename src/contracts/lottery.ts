import { defineEvent } from '../kernel/events'

/** A member entered a lottery (by keyword, by paying points, or automatically at close). */
export const LotteryEntered = defineEvent<{
  botId: string
  groupId: string
  memberId: string
  lotteryId: number
  method: 'keyword' | 'points' | 'auto'
  /** Points paid (0 unless method is 'points'). */
  points: number
}>()('lottery.entered')

/** A lottery was drawn (one event per group it ran in; `winnerIds` are the winners of that group). */
export const LotteryDrawn = defineEvent<{
  botId: string
  groupId: string
  lotteryId: number
  /** Draw round: 0 for the draw, 1… for rerolls. */
  round: number
  winnerIds: string[]
  /** Eligible entrants the draw chose from (all groups). */
  eligible: number
}>()('lottery.drawn')
