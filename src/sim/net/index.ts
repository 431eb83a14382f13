/** Simulated links for the simulator: the SimNetwork link model and scheduler, and its libp2p transport. */
export { SimNetwork, SimNetworkError, DEFAULT_JITTER, DEFAULT_RTO_MS, DEFAULT_SEED, DEFAULT_MAX_PER_TICK, type SimNetworkInit, type SimNetworkStats, type SimDirection, type SimEndpoint } from './network.js'
export { simTransport, type SimTransportComponents } from './transport.js'
