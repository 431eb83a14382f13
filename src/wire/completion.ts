/**
 * The values a completion carries on /tally/infer (its `done` frame's finish_reason and
 * usage_source strings, protocols/infer.md), as types: the backends produce them, the router
 * reports them to its callers. Defined here so the market and the exec layers share them without
 * importing each other.
 */

/** whose count the usage figures are: the backend's report, our tokenizer, or an estimate */
export type UsageSource = 'reported' | 'tokenized' | 'estimated'

export type FinishReason = 'stop' | 'length' | 'cancelled' | 'error' | 'tool_calls'
