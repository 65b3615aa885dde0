/**
 * A Redis Cluster of the test's own (three masters, three replicas) from the machine's redis-server;
 * the logic lives in scripts/redis-cluster.mjs so that the bench starts the same one. Each test file
 * gives its own first port (the project's tests use 7100-7199; bus ports are port + 10000).
 */
export { RedisClusterSet } from '../../scripts/redis-cluster.mjs';
