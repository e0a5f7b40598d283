import { z } from 'zod'

/** Token bucket expressed the way operators think: per minute, with a burst. */
const RateSchema = z.strictObject({
  perMinute: z.number().positive().max(6000),
  burst: z.int().min(1).max(1000),
})

/** How long a kind of outbound action stays worth sending, in minutes (at most 30 days); null = forever. */
const ExpiryMinutesSchema = z.number().positive().max(43_200).nullable()

/** API limits can be far higher than sending limits (a dashboard polls; a load test runs). */
const ApiRateSchema = z.strictObject({
  perMinute: z.number().positive().max(1_000_000),
  burst: z.int().min(1).max(100_000),
})

/** One message for every way a port can be wrong (not a number, a fraction, out of range). */
const PORT = { error: 'must be a port number (0–65535; 0 picks a free one)' }

/** Days a data class is kept (null = kept) and the most an owner's policy may set (null = no limit). */
const RetentionClassSchema = z.strictObject({
  days: z.int().min(1).max(36_500).nullable(),
  maxDays: z.int().min(1).max(36_500).nullable(),
}).refine((c) => c.maxDays === null || (c.days !== null && c.days <= c.maxDays), { message: 'days must be set and ≤ maxDays when maxDays is set', path: ['days'] })

/** Retention per data class (src/kernel/personal-data.ts) and the purge job's pacing. */
export const RetentionConfigSchema = z.strictObject({
  /** When each class's daily purge runs (fenced: one replica per fire time). */
  purgeCron: z.string().min(9),
  /** Rows deleted (or cleared) per statement: short transactions, row locks only on those rows. */
  batchSize: z.int().min(1).max(50_000),
  /** Pause between batches, so other writers get the table (and the event loop) in between. */
  pauseMs: z.int().min(0).max(10_000),
  classes: z.strictObject({
    'message-text': RetentionClassSchema,
    'message-metadata': RetentionClassSchema,
    rollups: RetentionClassSchema,
    'moderation-evidence': RetentionClassSchema,
    'audit-log': RetentionClassSchema,
    'delivery-logs': RetentionClassSchema,
    'lottery-proofs': RetentionClassSchema,
    /** Counted from when the member left the group (active members' profiles are kept). */
    profile: RetentionClassSchema,
  }),
})

/** Whether a string is a valid IANA timezone for Intl. */
export function isTimezone(tz: string): boolean {
  try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); return true } catch { return false }
}

/** One schema for the whole configuration, parsed before anything starts. */
export const ConfigSchema = z.strictObject({
  env: z.enum(['development', 'test', 'production']),
  server: z.strictObject({
    host: z.string().min(1),
    port: z.int(PORT).min(0, PORT).max(65535, PORT),
  }),
  api: z.strictObject({
    /** Largest JSON body accepted, in bytes. */
    bodyLimitBytes: z.int().min(1024).max(10 * 1024 * 1024),
    /** Largest image a content-library upload may be, in bytes (decoded; larger uploads get 413). */
    imageUploadMaxBytes: z.int().min(1024).max(10 * 1024 * 1024).default(2 * 1024 * 1024),
    /** Trust X-Forwarded-For (only behind a proxy you control). */
    trustProxy: z.boolean(),
    /** Browser origins allowed to call the API (CORS); empty = CORS off. Never a wildcard. */
    corsOrigins: z.array(z.string().regex(/^https?:\/\/[^/*\s]+$/, 'an origin like https://admin.example.com (no wildcards, no path)')),
    rateLimits: z.strictObject({
      perToken: ApiRateSchema,
      perIp: ApiRateSchema,
      failedAuthPerIp: ApiRateSchema,
      tokenCreation: ApiRateSchema,
    }),
  }),
  dataDir: z.string().min(1),
  database: z.strictObject({
    url: z.string().regex(/^mysql:\/\/.+/, 'must be a mysql://user:pass@host:port/db URL').nullable(),
    sqliteFile: z.string().min(1),
    logging: z.boolean(),
    /**
     * SQLite file database: buffered writes (flushes) are committed by a worker thread with its own
     * connection, off the event loop. Ignored for MySQL and ':memory:'.
     */
    writerThread: z.boolean(),
  }),
  redis: z.strictObject({
    url: z.string().regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL').nullable(),
    keyPrefix: z.string().min(1).max(64),
  }),
  log: z.strictObject({
    level: z.enum(['error', 'warn', 'info', 'debug']),
    format: z.enum(['json', 'pretty']),
  }),
  timezone: z.string().refine(isTimezone, 'unknown IANA timezone'),
  botsDir: z.string().min(1),
  rulesDir: z.string().min(1),
  puppet: z.strictObject({
    /** Overrides every bot's puppet when set (WECHATY_PUPPET). */
    name: z.string().nullable(),
    endpoint: z.string().nullable(),
    tls: z.strictObject({
      disable: z.boolean(),
      caCert: z.string().nullable(),
      serverName: z.string().nullable(),
    }),
    timeoutSeconds: z.int().min(10).max(3600),
  }),
  pipeline: z.strictObject({
    dedupeTtlHours: z.number().positive().max(24 * 30),
    /** After a Redis error or reconnection, message ids Redis calls new are checked in the database this long (Redis may have lost its marks). */
    dedupeFallbackMinutes: z.number().min(0).max(24 * 60),
    /** Most messages one group may have waiting or running; a message arriving at a full group is shed (logged, counted, its dedupe mark forgotten). null = unbounded. */
    maxQueuePerGroup: z.int().min(1).max(1_000_000).nullable(),
    /**
     * Members' lifecycle states kept in memory by the message path (tagging), least recently used groups
     * evicted beyond it (a group evicted is read again in one query on its next message).
     */
    memberStateCache: z.int().min(1).max(10_000_000).default(200_000),
  }),
  outbound: z.strictObject({
    perAccount: RateSchema,
    perGroup: RateSchema,
    jitterMs: z.tuple([z.int().min(0), z.int().min(0)]).refine(([a, b]) => a <= b, 'min must be ≤ max'),
    maxAttempts: z.int().min(1).max(20),
    retryBaseMs: z.int().min(0).max(600_000),
    /**
     * Minutes an action may wait (e.g. while the bot is logged out) before it is dropped and recorded as
     * expired instead of sent late; null = never. Removals, additions and tags never expire.
     */
    expiryMinutes: z.strictObject({
      /** Replies, cards, images, welcomes and reminders in a group. */
      groupMessage: ExpiryMinutesSchema,
      /** Direct messages (e.g. telling an owner a removal failed). */
      directMessage: ExpiryMinutesSchema,
      /** Answers to room invitations. */
      invitationAnswer: ExpiryMinutesSchema,
    }),
  }),
  activity: z.strictObject({
    flushIntervalMs: z.int().min(50).max(60_000),
  }),
  /** How long each data class is kept (issue 19), and how the daily purge runs; see README "Retention". */
  retention: RetentionConfigSchema,
  groups: z.strictObject({
    acceptInvitations: z.boolean(),
    /** Inviter ids (or names) whose room invitations are accepted; empty = everyone. */
    inviterAllowlist: z.array(z.string().min(1)),
  }),
  simulation: z.strictObject({
    mode: z.enum(['auto', 'on', 'off']),
    groups: z.int().min(1).max(50),
    minMembers: z.int().min(3).max(500),
    maxMembers: z.int().min(3).max(500),
    /** Messages per minute across the whole simulated community. */
    messagesPerMinute: z.number().positive().max(6000),
    seed: z.int().nullable(),
  }).refine((s) => s.minMembers <= s.maxMembers, { message: 'minMembers must be ≤ maxMembers', path: ['minMembers'] }),
  shutdown: z.strictObject({
    drainTimeoutMs: z.int().min(0).max(300_000),
  }),
  /** Several processes on one database and Redis: who runs which bot, and how long claims last. */
  replicas: z.strictObject({
    /** This process's name in leases and outbound claims; null = host:pid:random. */
    id: z.string().min(1).max(64).nullable(),
    /** A bot's lease lives this long without renewal; a dead holder's bots are taken over after it (plus one renewal period). */
    leaseTtlMs: z.int().min(1_000).max(300_000),
    /** How often leases are renewed and free bots looked for. */
    renewEveryMs: z.int().min(100).max(60_000),
    /** Most bots this replica runs at once; null = no limit. */
    maxBots: z.int().min(0).max(10_000).nullable(),
    /**
     * Share of the bots: a weighted replica runs about bots × weight / (sum of the live replicas' weights)
     * of them (rounded up; `maxBots` still caps) and hands extra ones back one per renewal; null = take any
     * free bot (up to maxBots). Give every replica a weight, or none: unweighted replicas are not counted.
     */
    weight: z.number().positive().max(1_000).nullable(),
    /** How long a claim on an outbound action lasts without renewal (renewed while the holder is alive). */
    claimTtlMs: z.int().min(1_000).max(3_600_000),
  }).refine((r) => r.renewEveryMs * 2 <= r.leaseTtlMs, { message: 'renewEveryMs must be at most half of leaseTtlMs', path: ['renewEveryMs'] }),
  lottery: z.strictObject({
    /**
     * A drand-compatible public randomness beacon mixed into every draw; null = none (proofs say so).
     * Operator-level on purpose: the server fetches this URL, so API owners never choose where it goes.
     */
    beacon: z.strictObject({
      /** Base URL of a drand HTTP API, e.g. https://api.drand.sh (no trailing path). */
      url: z.string().regex(/^https?:\/\/[^\s/]+(:\d+)?(\/[^\s]*)?$/, 'a base URL like https://api.drand.sh'),
      /** The chain's hash (hex), as `<url>/chains` lists it. */
      chainHash: z.string().regex(/^[0-9a-f]{64}$/, '64 hex digits'),
      /** Unix seconds of the chain's round 1 (`<url>/<chainHash>/info` → genesis_time). */
      genesisTime: z.int().min(0),
      /** Seconds between rounds (`info` → period). */
      periodSeconds: z.int().min(1).max(600),
      /** Per request; a draw waits at most (retries + 1) · timeoutMs (+ 500 ms between tries). */
      timeoutMs: z.int().min(100).max(30_000).default(3_000),
      retries: z.int().min(0).max(5).default(2),
    }).nullable(),
  }),
  metrics: z.strictObject({
    /** Serve Prometheus metrics at /metrics. */
    enabled: z.boolean(),
    /** Bearer token required by /metrics (QUNYUN_METRICS_TOKEN); null = open (bind the API to a private network). */
    token: z.string().min(16).nullable(),
  }),
  privacy: z.strictObject({
    /**
     * The deployment's pseudonym key (64 hex digits; QUNYUN_PSEUDONYM_KEY): HMAC key of member pseudonyms
     * (erasure, lottery proofs, pseudonymised CSV exports). null = generated at first start and kept in
     * the database (qy_deployment_secret), so every replica and every restart uses the same key.
     */
    pseudonymKey: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits').nullable(),
    /** Log files the residue scan (`qunyun member erase ID --verify`) searches (where you send stdout). */
    logFiles: z.array(z.string().min(1)).max(50),
  }),
})

/** The validated configuration. */
export type Config = z.infer<typeof ConfigSchema>

/** An environment variable name (secrets are never written in bots/ files, only the variable holding them). */
const EnvName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'an environment variable name (A-Z, 0-9, _)')

/** The official WeCom server API for one bot (a self-built app of the corp). */
export const WecomBotSchema = z.strictObject({
  /** The corp id (我的企业 → 企业ID); every callback must carry it as its receive id. */
  corpId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'the corp id (letters and digits)'),
  /** Variable holding the app's Secret (customer contact needs the app to have 客户联系 permission). */
  secretEnv: EnvName.default('WECOM_SECRET'),
  /** Variable holding the callback Token (接收事件服务器 → Token). */
  callbackTokenEnv: EnvName.default('WECOM_CALLBACK_TOKEN'),
  /** Variable holding the 43-character EncodingAESKey. */
  aesKeyEnv: EnvName.default('WECOM_ENCODING_AES_KEY'),
  /** API base URL (tests point it at a local fake server). */
  apiBase: z.string().regex(/^https?:\/\/[^\s/]+(:\d+)?$/, 'a base URL like https://qyapi.weixin.qq.com (no path)').default('https://qyapi.weixin.qq.com'),
  /** Callbacks whose timestamp is further than this from now are refused. */
  timestampWindowSeconds: z.int().min(10).max(3600).default(300),
  /** When the customer groups are reconciled with the directory (lists every group and its members). */
  reconcileCron: z.string().min(9).default('*/30 * * * *'),
  /** Per API request. */
  requestTimeoutMs: z.int().min(100).max(60_000).default(5_000),
  /** Retries of a request that failed transiently (network, system busy). */
  maxRetries: z.int().min(0).max(5).default(2),
  /** Group robots (群机器人): the webhook key's variable per group id; scheduled shares go out through them. */
  robots: z.array(z.strictObject({ groupId: z.string().min(1).max(191), keyEnv: EnvName })).default([]),
  /** How often the callback inbox is polled for due rows (each stored callback also wakes it at once). */
  inboxPollMs: z.int().min(50).max(60_000).default(1_000),
  /**
   * channel both: a callback is processed this long after it arrived, so the puppet's report of the same
   * change (usually first) is seen and the pairing counts it once.
   */
  pairGraceMs: z.int().min(0).max(600_000).default(15_000),
  /** mark_tag calls a second for this corp (shared by every replica through the coordination port). */
  markTagPerSecond: z.number().min(0.1).max(50).default(5),
  /** groupchat/get calls at once during reconciliation. */
  reconcileConcurrency: z.int().min(1).max(20).default(4),
  /** Our tag name → corp tag id (企业客户标签, e.g. "et…"); the tag verb marks customers with these. */
  corpTags: z.record(z.string().min(1).max(64), z.string().min(1).max(64)).default({}),
})

/** A bot definition file in bots/. */
export const BotDefinitionSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, - and _'),
  name: z.string().min(1).max(100).optional(),
  /** 'auto' = wechaty-puppet-service when the token env var is set, otherwise the simulated community. */
  puppet: z.enum(['auto', 'mock', 'wechaty-puppet-service']).default('auto'),
  tokenEnv: z.string().regex(/^[A-Z][A-Z0-9_]*$/).default('WECHATY_PUPPET_SERVICE_TOKEN'),
  /** Rule pack file name in rules/ whose values are this bot's group defaults. */
  rulePack: z.string().min(1).default('default.yaml'),
  /** Which groups it serves: 'all' or a list of group ids. */
  groups: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
  /** How the bot reaches WeCom: a puppet account, the official server API, or both. */
  channel: z.enum(['puppet', 'official', 'both']).default('puppet'),
  /** The official API's settings (required for channel official or both). */
  wecom: WecomBotSchema.optional(),
}).refine((b) => b.channel === 'puppet' || b.wecom !== undefined, { message: 'channel official or both needs a wecom section', path: ['wecom'] })

/** The secrets of a bot's official API, read from the variables its wecom section names. */
export interface WecomSecrets {
  secret: string
  callbackToken: string
  encodingAesKey: string
  /** Group id → robot webhook key. */
  robotKeys: Record<string, string>
}

/** A bot definition with its token resolved from the environment. */
export type BotDefinition = Omit<z.infer<typeof BotDefinitionSchema>, 'channel'> & {
  /** Absent = 'puppet' (definitions built in code predate the official API). */
  channel?: z.infer<typeof BotDefinitionSchema>['channel']
  /** The puppet actually used. */
  resolvedPuppet: 'mock' | 'wechaty-puppet-service'
  token: string | null
  file: string
  /** Present when the bot uses the official API. */
  wecomSecrets?: WecomSecrets
}
