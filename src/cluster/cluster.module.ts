import { Module } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/config.js';
import { BROKER } from './broker.js';
import { DEDUP } from './dedup.js';
import { MemoryBroker } from './memory/memory-broker.js';
import { MemoryDedup } from './memory/memory-dedup.js';
import { MemoryPresence } from './memory/memory-presence.js';
import { PRESENCE } from './presence.js';

/** Chooses the cluster seams' implementations: in memory (the default, single instance). */
@Module({
  providers: [
    {
      provide: BROKER,
      inject: [GATEWAY_CONFIG],
      useFactory: (config: GatewayConfig) => new MemoryBroker(config.historySize),
    },
    { provide: PRESENCE, useFactory: () => new MemoryPresence() },
    { provide: DEDUP, useFactory: () => new MemoryDedup() },
  ],
  exports: [BROKER, PRESENCE, DEDUP],
})
export class ClusterModule {}
