import { Column, Entity, Index, PrimaryColumn } from 'typeorm'
import { msColumn } from '../../adapters/db/columns'

/**
 * A question still waiting for an answer (see stats.open-questions.ts): kept so a restart does not forget
 * it; deleted when answered, when its window ends, or by the daily purge. At most the answer window old.
 */
@Entity('qy_stats_open_question')
@Index('idx_stats_open_question_deadline', ['deadline'])
export class StatsOpenQuestionEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'message_id', type: 'varchar', length: 191 }) messageId!: string
  @Column({ name: 'sender_id', type: 'varchar', length: 191 }) senderId!: string
  @Column(msColumn('at')) at!: number
  /** The question's local day and hour (where its resolution is counted). */
  @Column({ type: 'varchar', length: 10 }) day!: string
  @Column({ type: 'integer' }) hour!: number
  /** Answers after this time (ms) no longer resolve it. */
  @Column(msColumn('deadline')) deadline!: number
}
