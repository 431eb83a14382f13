/** Flags of `tally start`. */
import { Option, type Command } from 'commander'
import { collect } from '../io.js'
import type { ServeFlags } from './serve.js'

export interface StartOptions extends ServeFlags {
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  config?: string
  transport?: string
  gateway?: string
  /** an address, or false for --no-api (commander's true: not given) */
  api?: string | boolean
  net?: string
  tokenizer?: string[]
  json?: boolean
}

export function startOptions (cmd: Command): Command {
  return cmd
    .description('run a node: join the network, relay gossip, keep the ledger, serve its HTTP API (dashboard, OpenAI-compatible /v1, /tally/*); sell with --serve')
    .option('--data-dir <dir>', 'where the identity and ledger live (default ~/.tally, env TALLY_DATA_DIR)')
    .option('--listen <multiaddr>', 'address to listen on; repeat or comma-separate (default /ip4/0.0.0.0/tcp/0)', collect)
    .option('--bootstrap <multiaddr>', 'peer to join through, ending in /p2p/<peer id>; repeat or comma-separate', collect)
    .option('--config <file>', 'JSON config file (env TALLY_CONFIG)')
    .option('--net <id>', 'network id (64 hex) to join; without a genesis in the config it is fetched from a --bootstrap peer and checked against this id (env TALLY_NET)')
    .addOption(new Option('--transport <name>', 'tcp or memory').choices(['tcp', 'memory']))
    .option('--api <host:port>', 'serve the node\'s HTTP API here (default 127.0.0.1:8080, or a free port when that is taken; port 0 takes a free port; the start line names it) (env TALLY_API_LISTEN)')
    .option('--no-api', 'serve no HTTP API')
    .option('--gateway <host:port>', 'the older name of --api (env TALLY_GATEWAY)')
    .option('--serve <model>', 'sell inference of a GGUF file through the embedded engine; "tiny" = the generated test model')
    .option('--serve-http <url>', 'sell inference of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1')
    .option('--model-id <id>', 'market model id (with --serve-http: the name the server knows)')
    .option('--params <n>', 'parameter count of the --serve-http model (Bpt = tokens × params / 1e9)')
    .option('--api-key-env <VAR>', 'environment variable holding the --serve-http server\'s API key')
    .option('--capabilities <list>', 'what the --serve-http server serves, listed in its offers: chat, tools, json_schema, embeddings, logprobs, completions; repeat or comma-separate (default chat: a server\'s support cannot be known from outside)', collect)
    .option('--price-in <uc>', 'µc per 1M input tokens (default: par, 1 µc per Bpt)')
    .option('--price-out <uc>', 'µc per 1M output tokens (default: par)')
    .option('--max-sessions <n>', 'concurrent sessions offered')
    .option('--max-unpaid <uc>', 'most µc served ahead of one buyer\'s vouchers, across its sessions (default 50000; young accounts 10000)')
    .option('--max-unpaid-total <uc>', 'most µc served ahead of vouchers across all sessions (default 1000000)')
    .option('--refuse-credit', 'serve no buyer whose lock rests on a credit line or a grant rather than its own funds')
    .option('--trust-grantor <account>', 'serve a buyer whose lock rests on granted lines only when they come from this account; repeat or comma-separate, at most 16 (env TALLY_TRUST_GRANTORS; default: any grantor)', collect)
    .option('--threads <n>', 'CPU threads of the embedded engine (default 1)')
    .option('--gpu', 'let the embedded engine use a GPU when present')
    .option('--tokenizer <gguf>', 'a GGUF file whose tokenizer counts your prompts exactly when an offer\'s verified fingerprint matches it ("tiny" = the generated test model); repeat for several', collect)
    .option('--json', 'print one JSON line at start and one per event')
}
