/** The open network (docs/network.md): discovery, connection target, NAT traversal, dialable addresses. */
export * from './config.js'
export { dialableAddrs, isPublicAddr, isRelayAddr } from './addresses.js'
export { reachabilityOf, type Reachability } from './reachability.js'
export { ConnectionTarget, connectionTarget, type ConnectionTargetInit } from './connection-target.js'
export { dhtProtocol, mdnsServiceTag, hasPublicAddress, planNetwork, networkServiceFactories, isOpen, relayTransport, RELAY_LISTEN, type NetworkPlan } from './services.js'
