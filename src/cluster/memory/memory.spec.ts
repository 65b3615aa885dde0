import { brokerContract } from '../broker.contract.js';
import { dedupContract } from '../dedup.contract.js';
import { presenceContract } from '../presence.contract.js';
import { MemoryBroker } from './memory-broker.js';
import { MemoryDedup } from './memory-dedup.js';
import { MemoryPresence } from './memory-presence.js';

brokerContract('memory', () => ({
  create: (historySize) => Promise.resolve(new MemoryBroker(historySize)),
  dispose: () => Promise.resolve(),
}));

presenceContract('memory', () => ({
  create: () => Promise.resolve(new MemoryPresence()),
  dispose: () => Promise.resolve(),
}));

dedupContract('memory', () => ({
  create: () => Promise.resolve(new MemoryDedup()),
  dispose: () => Promise.resolve(),
}));
