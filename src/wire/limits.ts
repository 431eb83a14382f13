/** Range limits for signed payloads (offers, bids, quotes, contracts): the numbers every validator in the network applies. */

/** an offer is re-announced well within this, so a silent seller drops out in 2 min */
export const MAX_OFFER_TTL_MS = 120_000
/** bids are short-lived too: a buyer re-publishes while it still wants the compute */
export const MAX_BID_TTL_MS = 120_000
/** tolerance for clocks that disagree between publisher and validator */
export const MAX_CLOCK_SKEW_MS = 5_000
/** one signed offer or bid on the wire; multiaddrs dominate */
export const MAX_OFFER_BYTES = 4096
export const MAX_BID_BYTES = 2048
export const MAX_MODEL_ID_CHARS = 128
export const MAX_FINGERPRINT_CHARS = 128
export const MAX_QUANTIZATION_CHARS = 32
export const MAX_REGION_CHARS = 32
export const MAX_MULTIADDR_CHARS = 256
export const MAX_MULTIADDRS = 8
export const MAX_CAPABILITIES = 16
export const MAX_CAPABILITY_CHARS = 32
export const MAX_QUANTIZATIONS = 16
/** 100,000 credits per 1M tokens (1e11 µc): far above any real price, low enough to keep sums in range */
export const MAX_PRICE_PER_MTOK_UC = 100_000_000_000n
/** 10 trillion parameters */
export const MAX_PARAMS = 10_000_000_000_000n
export const MAX_CONTEXT_LENGTH = 16_777_216
export const MAX_SESSIONS = 100_000
export const MAX_TOKENS_PER_SEC = 10_000_000
/** expected tokens of one request, used for effective prices */
export const MAX_EXPECTED_TOKENS = 100_000_000n
