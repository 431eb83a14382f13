/**
 * The buyer's own tokenizers: GGUF files it holds, known by fingerprint. When an offer's verified
 * fingerprint matches one, the buyer counts the prompt's input tokens itself (vocabulary only, in
 * an engine child, so a bad file cannot take the node down) and signs nothing above that count;
 * otherwise the UTF-8 bytes bound applies (protocols/infer.md §Buyer's bounds).
 */
import type { Logger } from '@libp2p/interface'
import type { ChatRequest } from '../exec/backend.js'
import { modelFingerprint } from '../exec/fingerprint.js'
import type { EmbeddedTokenizer } from '../exec/backends/embedded/index.js'

/** which bound the buyer held the seller's input-token count to */
export type InputBound = 'exact' | 'bytes'

export class LocalTokenizers {
  /** fingerprint → GGUF path */
  private readonly paths = new Map<string, string>()
  /** fingerprint → the loading or loaded tokenizer (a failed load is dropped and tried again next time) */
  private readonly loaded = new Map<string, Promise<EmbeddedTokenizer>>()
  private stopped = false

  constructor (private readonly files: readonly string[], private readonly log: Logger) {}

  /** fingerprint every file; a file that cannot be read is logged and skipped (the bytes bound applies) */
  async start (): Promise<void> {
    for (const path of this.files) {
      try {
        this.paths.set(await modelFingerprint(path), path)
      } catch (err: any) {
        this.log.error('tokenizer %s skipped: %s', path, err?.message)
      }
    }
  }

  async stop (): Promise<void> {
    this.stopped = true
    const all = [...this.loaded.values()]
    this.loaded.clear()
    await Promise.allSettled(all.map(async p => { await (await p).close() }))
  }

  /** fingerprints this node can count exactly */
  fingerprints (): string[] {
    return [...this.paths.keys()]
  }

  /** the prompt's exact input tokens for the model `fingerprint`, or undefined when this node has no working tokenizer for it */
  async countInputTokens (fingerprint: string, request: ChatRequest): Promise<number | undefined> {
    return await this.count(fingerprint, async t => await t.countInputTokens(request))
  }

  /** an embeddings request's exact input tokens for the model `fingerprint` (protocols/infer.md § Embeddings), or undefined */
  async countEmbedTokens (fingerprint: string, inputs: string[]): Promise<number | undefined> {
    return await this.count(fingerprint, async t => await t.countEmbedTokens(inputs))
  }

  private async count (fingerprint: string, run: (t: EmbeddedTokenizer) => Promise<number>): Promise<number | undefined> {
    const path = this.paths.get(fingerprint)
    if (path == null || this.stopped) return undefined
    let tokenizer = this.loaded.get(fingerprint)
    if (tokenizer == null) {
      // loaded on first use: a node that never counts exactly never loads the engine's modules
      tokenizer = import('../exec/backends/embedded/index.js').then(async m => await m.createEmbeddedTokenizer(path))
      this.loaded.set(fingerprint, tokenizer)
    }
    try {
      return await run(await tokenizer)
    } catch (err: any) {
      if (this.loaded.get(fingerprint) === tokenizer) this.loaded.delete(fingerprint)
      this.log.error('tokenizer for %s failed, using the bytes bound: %s', fingerprint.slice(0, 12), err?.message)
      return undefined
    }
  }
}
