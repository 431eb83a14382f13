// Imported first by vitest in every worker: libp2p 3 needs Promise.withResolvers (Node 20 lacks it).
import '../src/polyfill.js'
