// The test harness: import everything from here.
//   paths            PROJECT_ROOT, DIST_MAIN, CLIENT_BUNDLE, requireBuild
//   tokens           TEST_SECRET, signToken (the one signer), userToken, serviceToken
//   wait             Conditions (event-driven), poll (only for state that announces nothing)
//   ws-client        TestClient (frames by type/predicate, close, roundTrip), join, HandshakeRefused
//   app              startApp (in process, logs captured on request), LogCapture
//   gateway-process  GatewayProcess (the one launcher of dist/main.js)
//   redis            SHARED_REDIS_URL, uniquePrefix, deleteKeys, PrivateRedis
//   cluster          Cluster (in-process instances on one Redis prefix), seqs, range, connectAs,
//                    connectWithTicket (ticket from one instance, redeemed on another), emitHubPublish
//   net              freePort, post, readyz
//   sentinel         SentinelSet (master, replica, three sentinels), SENTINEL_MASTER
//   redis-cluster    RedisClusterSet (three masters, three replicas on the test's ports; kill, failedOver)
//   nginx            Nginx (deploy/nginx.conf in front of gateways), NGINX (its binary)
//   gateway-client-kit  ClientRecorder (waits on a GatewayClient's events), instrumentedWebSocket
export * from './app.js';
export * from './cluster.js';
export * from './gateway-process.js';
export * from './net.js';
export * from './nginx.js';
export * from './paths.js';
export * from './redis.js';
export * from './tokens.js';
export * from './wait.js';
export * from './ws-client.js';
export * from './gateway-client-kit.js';
export * from './sentinel.js';
export * from './redis-cluster.js';
