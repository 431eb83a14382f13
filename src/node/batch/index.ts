/** Batch jobs bought from the market through OpenAI's batch API (docs/batch.md). */
export * from './format.js'
export { BatchStore, DurableLog, readLog, type StoredBatch } from './store.js'
export { BatchRunner, lineEstimateUc, type BatchBuyer, type Quote, type QuoteSource, type RunnableLine, type LineSink, type LineFailure, type RunOutcome, type RunnerInit } from './runner.js'
export { postedPrices, type PostedOffer } from './quotes.js'
export { BatchService, type BatchServiceInit, type LineCodec } from './service.js'
